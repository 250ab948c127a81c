"""The Flask application: the web UI (`ui`) and the JSON API (`api`) over one instance's search service.

    gunicorn -c gunicorn.conf.py 'searchapp:create_app()'

Each process loads the model and memory-maps the indexes once, on its first request, and picks up a
newer index when its version file changes (see `indexer.search.SearchService`).
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from encoder import set_threads
from indexer.search import SearchService
from indexer.vector_index import set_search_threads

from .config import ROOT, load_config
from .strict_json import StrictJSONProvider

_service_lock = threading.Lock()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "templates" / "static"))
    app.json = StrictJSONProvider(app)
    load_config(app, config)
    set_threads(int(app.config["THREADS"]))
    set_search_threads(int(app.config["THREADS"]))
    from . import api, errors, guards, ui

    app.register_blueprint(ui.blueprint)
    app.register_blueprint(api.blueprint, url_prefix="/api")
    errors.register(app)
    guards.register(app)
    return app


def search_service() -> SearchService:
    """This process's search service, opened on first use (after a gunicorn fork, not before)."""
    service = current_app.extensions.get("search_service")
    if service is None:
        with _service_lock:
            service = current_app.extensions.get("search_service")
            if service is None:
                config = current_app.config
                service = SearchService.open(config["INSTANCE"], config["DATABASE_URL"], config["MODEL"])
                current_app.extensions["search_service"] = service
    return service

"""The Flask application: the web UI (`ui`) and the JSON API (`api`) over one instance's search service.

    gunicorn -c gunicorn.conf.py 'searchapp:create_app()'

Each process loads the model and memory-maps the indexes once, on its first request (`service`), and
picks up a newer index when its version file changes (see `indexer.search.SearchService.refresh`).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from encoder.paths import REPOSITORY

from .config import load_settings
from .strict_json import StrictJSONProvider


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """The app with its settings loaded (see `config`); `config` overrides every other source."""
    app = Flask(__name__, template_folder=str(REPOSITORY / "templates"), static_folder=str(REPOSITORY / "templates" / "static"))
    app.json = StrictJSONProvider(app)
    app.config.update(load_settings(config))
    from . import api, errors, guards, quality_pages, service, ui

    service.init_app(app)
    app.register_blueprint(ui.blueprint)
    app.register_blueprint(api.blueprint, url_prefix="/api")
    app.register_blueprint(quality_pages.blueprint, url_prefix="/quality")
    errors.register(app)
    guards.register(app)
    return app

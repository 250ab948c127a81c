"""The app's settings: defaults, then an optional file, then `SEARCHAPP_*` environment variables, then
what the caller of `create_app` passes (tests, `manage.py serve`).

The environment names are the command line's (`SEARCHAPP_INSTANCE`, `SEARCHAPP_DATABASE_URL`,
`SEARCHAPP_MODEL`), so one shell setting serves `manage.py index` and the server alike.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "models" / "default"

DEFAULTS: dict[str, object] = {
    "INSTANCE": "instance",  # folder of the store, the indexes and the write lock
    "DATABASE_URL": None,  # SQLAlchemy URL; None: SQLite inside the instance folder
    "MODEL": str(DEFAULT_MODEL),  # used when the instance has not recorded one yet
    "API_TOKEN": None,  # bearer token for the write endpoints; None disables writes
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,  # bytes of one request body (Flask answers 413 above)
    "MAX_QUERY_CHARS": 1000,
    "MAX_K": 100,
    "MAX_OFFSET": 1000,
    "MAX_BATCH_DOCUMENTS": 1000,  # documents in one POST /api/documents
    "PAGE_SIZE": 10,  # results per page in the web UI
    "THREADS": 1,  # torch and FAISS threads per process: one query is small, processes give the parallelism
}


def load_config(app: Flask, overrides: dict | None) -> None:
    app.config.update(DEFAULTS)
    if path := os.environ.get("SEARCHAPP_CONFIG"):
        app.config.from_file(os.path.abspath(path), load=json.load)
    app.config.from_prefixed_env("SEARCHAPP")
    app.config.update(overrides or {})
    # A token that happens to be all digits arrives from the environment parsed as a number.
    if app.config["API_TOKEN"] is not None:
        app.config["API_TOKEN"] = str(app.config["API_TOKEN"])

"""The development server (`manage.py serve` and `demo`): the app and the background writer in one
process, the writer in a thread; production runs gunicorn, whose conf starts the writer as a process of
its own (README, "Serving")."""

from __future__ import annotations

import threading

from flask import Flask

from .service import configured_reranker
from .writes import run_writer

WRITER_JOIN_SECONDS = 5


def serve_development(app: Flask, host: str, port: int) -> None:
    """Serve `app` with threads until Ctrl-C, applying its queued writes meanwhile. Killed mid-job, the
    writer loses nothing: the job is applied again by the next one."""
    config = app.config
    stop = threading.Event()
    writer = threading.Thread(target=run_writer, args=(config["INSTANCE"], config["DATABASE_URL"], config["MODEL"], stop),
                              kwargs={"reranker": configured_reranker(config)}, name="writer", daemon=True)
    writer.start()
    try:
        app.run(host=host, port=port, threaded=True)
    finally:
        stop.set()
        writer.join(timeout=WRITER_JOIN_SECONDS)

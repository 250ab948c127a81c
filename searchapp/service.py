"""The search service of this process, as the blueprints reach it (the part `flaskr/db.py` plays in
Flask's tutorial): `init_app` sets the process up, `search_service()` opens the instance on first use,
after gunicorn has forked the worker, so that each worker has its own database connections and thread
pools, and `health_report` says how it serves.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from flask import Flask, current_app

from encoder import set_threads
from indexer.reranking import Reranker
from indexer.search import SearchService
from indexer.vector_index import set_search_threads

EXTENSION = "search_service"
_service_lock = threading.Lock()


def init_app(app: Flask) -> None:
    """The process's torch and FAISS threads, from the `THREADS` setting (one per process under gunicorn:
    a query is small, and processes give the parallelism)."""
    threads = int(app.config["THREADS"])
    set_threads(threads)
    set_search_threads(threads)


def search_service() -> SearchService:
    """This process's search service, opened on first use (after a gunicorn fork, not before)."""
    service = current_app.extensions.get(EXTENSION)
    if service is None:
        with _service_lock:
            service = current_app.extensions.get(EXTENSION)
            if service is None:
                config = current_app.config
                service = SearchService.open(config["INSTANCE"], config["DATABASE_URL"], config["MODEL"], configured_reranker(config))
                current_app.extensions[EXTENSION] = service
    return service


def configured_reranker(config: Mapping) -> Reranker:
    """The reranker the settings name, loaded by the first reranked search (a process that never reranks never loads it)."""
    return Reranker(config["RERANKER"], config["RERANK_MAX_LENGTH"], config["RERANK_PRECISION"])


def open_now(app: Flask) -> SearchService:
    """Open the service before serving (the development server): a bad folder or model fails at the start,
    not on the first request."""
    with app.app_context():
        return search_service()


def health_report(service: SearchService) -> dict[str, object]:
    """`/api/health`'s body, after picking up a newer saved index: "degraded", with one line per problem,
    where a saved file is damaged (the process then serves its good copy, or what the store holds) or
    the index is empty over a store that holds chunks."""
    service.refresh()
    index = service.index
    problems = index.serving_problems()
    return {"status": "degraded" if problems else "ok", "problems": problems, "chunks": len(index.vectors),
            "index_version": index.loaded_version, "index_type": index.vectors.index_type,
            "model": index.model.name, "dim": index.vectors.dim}

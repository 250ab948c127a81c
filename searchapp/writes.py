"""API writes: queued by the request, applied by the background writer, so that writes never hold
the worker processes that serve searches (README, "Serving").

A request enqueues its validated documents (`indexer.jobs`) and answers 202 at once; `run_writer`,
in its own process (`manage.py writer`, started by gunicorn.conf.py) or a thread of the development
server, applies them through `open_for_writing`, taking turns with `manage.py index`. The writer
runs at a lower CPU priority with one thread, so that on a busy machine the searches get the cores.
Between writes it also measures the quality runs queued from /quality (`indexer.quality`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from encoder import set_threads
from indexer.jobs import JobStatus, apply_pending, has_pending, job_status
from indexer.quality import work_on_waiting_runs
from indexer.quality_store import has_waiting
from indexer.reranking import Reranker
from indexer.search import SearchService
from indexer.search_index import open_for_writing, store_url
from indexer.store import Store, open_store
from indexer.vector_index import set_search_threads

MAX_WAIT_SECONDS = 60  # the longest `?wait=` a request may hold a (gthread) thread for
POLL_SECONDS = 0.25  # how soon the writer notices a new job
RETRY_SECONDS = 5.0  # after a failure outside any job (database down, model missing)
WRITER_NICE = 10

log = logging.getLogger(__name__)


def wait_for(store: Store, job_id: int, seconds: float) -> JobStatus | None:
    """The job once finished, or as it is after `seconds`; None if there is no such job."""
    deadline = time.monotonic() + seconds
    pause = 0.02
    while True:
        job = job_status(store, job_id)
        if job is None or job.finished or time.monotonic() >= deadline:
            return job
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.5)


def run_writer(instance: str | Path, database_url: str | None, model: str | Path, stop: threading.Event,
               poll_seconds: float = POLL_SECONDS, reranker: Reranker | None = None) -> None:
    """Apply queued writes until `stop` is set, and measure queued quality runs while none waits (a
    reranked one with `reranker`, the server's).
    Stopping between jobs or killed mid-job, it loses nothing: what it had not marked done is applied
    again by the next writer (a quality run resumes at its first query without a result)."""
    try:
        os.nice(WRITER_NICE)  # on Linux, this thread and the threads it starts
    except OSError:
        log.warning("the writer cannot lower its CPU priority")
    Path(instance).mkdir(parents=True, exist_ok=True)
    store = open_store(store_url(instance, database_url))
    open_service = cache(lambda: SearchService.open(instance, database_url, model, reranker))  # only once a run waits
    try:
        while not stop.is_set():
            try:
                if has_pending(store):
                    with open_for_writing(instance, database_url, default_model=model) as index:
                        applied = apply_pending(index, should_stop=stop.is_set)
                        version = index.version
                    log.info("applied %d queued write(s); index version %d", applied, version)
                    continue
                if has_waiting(store):
                    measured = work_on_waiting_runs(store, open_service, lambda: stop.is_set() or has_pending(store))
                    log.info("finished %d quality run(s)", measured)
                    continue
            except Exception:  # noqa: BLE001 - a writer that stops would leave every later write queued
                log.exception("the writer failed; trying again in %.0f s", RETRY_SECONDS)
                stop.wait(RETRY_SECONDS)
                continue
            stop.wait(poll_seconds)
    finally:
        store.engine.dispose()


def writer_process() -> threading.Event:
    """Make this process the background writer (`manage.py writer`, which gunicorn.conf.py starts): log
    lines that name it, one thread for torch and FAISS (searches get the other cores), and the Event
    for `run_writer` that SIGTERM or Ctrl-C sets, to stop after the current job."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [writer %(process)d] %(levelname)s %(message)s")
    set_threads(1)
    set_search_threads(1)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop_handler(stop))
    return stop


def stop_handler(stop: threading.Event) -> Callable[[int, object], None]:
    """A signal handler that sets `stop` from another thread: the handler may run while the main
    thread, inside `stop.wait`, holds the Event's lock, and `stop.set()` would then wait for it forever."""
    return lambda *_: threading.Thread(target=stop.set).start()

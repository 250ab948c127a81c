"""gunicorn settings for the search app:

    gunicorn -c gunicorn.conf.py 'searchapp:create_app()'

The app's own settings (instance, database, token, ...) come from a SEARCHAPP_CONFIG file and
SEARCHAPP_* variables (searchapp/config.py), read the same way by the writer this conf starts.
"""

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

# --- workers and the background writer ----------------------------------------------------------
# One process per core: a search is CPU work (query encoding, FAISS, BM25) on one thread, so
# processes, not threads, give the parallelism (SEARCHAPP_THREADS stays 1). WEB_CONCURRENCY or -w
# overrides, as -b does the address.
bind = "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", len(os.sched_getaffinity(0))))
# gthread, not sync: a request that waits (POST ...?wait=, GET /api/jobs/<id>?wait=, a slow client
# sending a 16 MiB body) holds one of a worker's threads, not the whole process, so searches keep
# being served beside it. Eight threads per worker: more than the clients that wait at once in
# bench/load.py (4 writers), fewer than would let one process queue up a burst it cannot serve.
worker_class = "gthread"
threads = 8
# With gthread the timeout is the worker's heartbeat: its main loop answers between requests, so a
# long request never trips it and only a process that is stuck is restarted. Writes are queued (the
# longest legitimate request is a ?wait= of 60 s, or validating and queueing the largest allowed
# body: 1.9 s on a loaded 2-core machine, docs/benchmarks.md), so no request encodes for minutes as
# the sync workers did (WORKER TIMEOUT on a 400-document upsert).
timeout = 30
graceful_timeout = 30
keepalive = 5

# --- Request limits -------------------------------------------------------------------------------
# gunicorn answers a request line or headers over its own limits (4,094 and 8,190 bytes by default)
# with an HTML page, before the app sees the request, so an API client would get HTML where it reads
# {"error": {"code", "message"}}. These settings let such requests through; the app then refuses them
# itself, as JSON under /api: a URL over MAX_URL_BYTES (8 KiB) with 414 `uri_too_long`, headers over
# MAX_HEADER_BYTES (16 KiB in all) with 431 `headers_too_large` (searchapp/guards.py).
#
# limit_request_line: 0 is "no limit" (gunicorn's C parser, gunicorn_h1c, caps it at 1 MiB); a
#   number can be at most 8,190, too close to the app's 8 KiB to leave the app the answer. A client
#   that sends an endless line ties a worker up only until gunicorn's worker timeout.
# limit_request_field_size: bytes of one header line. gunicorn 27 reads 0 as its 8,190 default, not
#   as "no limit", so it is a number: 64 KiB, four times the app's limit on all headers together.
# limit_request_fields: number of header lines (at most 32,768); with the field size it bounds the
#   header buffer gunicorn keeps for a request (200 x 64 KiB = 12.5 MiB).
# Over 200 header lines or one line over 64 KiB, gunicorn still answers with its own HTML 431; only a
# hostile client sends those. A reverse proxy in front keeps limits of its own (nginx: 8 KiB lines).
limit_request_line = 0
limit_request_field_size = 64 * 1024
limit_request_fields = 200
# --- end of request limits ------------------------------------------------------------------------

# One writer applies the API's queued writes (`manage.py writer`: its own process, lower CPU
# priority, one thread), taking turns with `manage.py index` by the instance's write lock. It inherits
# the environment and loads the settings as the workers do (the SEARCHAPP_CONFIG file, then SEARCHAPP_*
# variables), so it writes to the instance they serve. Stopped or killed at any point, it loses
# nothing: the jobs are in the database.
WRITER_STOP_SECONDS = 20
_writer: subprocess.Popen | None = None


def _stop_with_the_master() -> None:
    """In the writer before it starts: SIGTERM it if the master dies without on_exit (kill -9), so
    that no orphan outlives the server (Linux; elsewhere a restart just adds a second writer, which
    takes turns with the first by the write lock)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass


def when_ready(server):
    global _writer
    _writer = subprocess.Popen([sys.executable, str(Path(__file__).resolve().with_name("manage.py")), "writer"],
                               preexec_fn=_stop_with_the_master)
    server.log.info("started the background writer (pid %d)", _writer.pid)


def on_exit(server):
    if _writer is None or _writer.poll() is not None:
        return
    _writer.terminate()  # it stops after its current job
    try:
        _writer.wait(timeout=WRITER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.log.warning("the writer did not stop within %d s: killing it (its job will be applied again)", WRITER_STOP_SECONDS)
        _writer.kill()
        _writer.wait()

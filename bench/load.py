"""Search latency while the API takes writes: gunicorn started with gunicorn.conf.py (gthread workers and
the background writer) over an instance of the demo corpus, then, each for SECONDS:

  (a) 8 searchers alone;
  (b) 8 searchers + 4 writers, each posting batches of new demo documents (new ids: all encoded) with
      the token and waiting for its job (`?wait=`) before the next;
  (c) 16 searchers;

then (d) one batch of MAX_BATCH_DOCUMENTS (1,000) new demo documents: the time to the 202 and the
writer's time to apply it (the job's started_at -> finished_at), and (e) the largest body the API
accepts (1,000 documents, MAX_CONTENT_LENGTH bytes, all one id so that the writer encodes one): the
time to the 202. Searchers send dense queries (SciFact claims, NFCorpus questions) back to back, a
fresh connection each; any answer other than 200 (or 200/202 for a write) is an error. Bar: (b)'s
search p50 within 3x of (a)'s, no error.

    .venv/bin/python bench/load.py [--seconds 20] [--instance DIR | --work /tmp/bench-load] [--database URL]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import itertools
import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder.paths import DEFAULT_MODEL  # noqa: E402
from indexer.demo import DEMO_FOLDER, build_demo  # noqa: E402
from indexer.search_index import SearchIndex  # noqa: E402
from searchapp.config import DEFAULTS  # noqa: E402
from serving import get, queries, search_path, serve as serve_with_gunicorn  # noqa: E402  (bench/serving.py)

TOKEN = "bench-load-token"
WRITE_BATCH = 10
MAX_WAIT = 60


def demo_documents() -> list[dict]:
    documents = []
    for path in sorted(DEMO_FOLDER.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            documents += [json.loads(line) for line in lines]
    return documents


def call(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2 * MAX_WAIT)
    try:
        connection.request(method, path, body=body, headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    except (OSError, ValueError):
        return 0, {}
    finally:
        connection.close()


def write(port: int, collection: str, documents: list[dict]) -> tuple[bool, dict]:
    """Post a batch and wait for its job; (done, the job)."""
    body = json.dumps({"collection": collection, "documents": documents}).encode()
    return follow(port, *call(port, "POST", f"/api/documents?wait={MAX_WAIT}", body))


def follow(port: int, status: int, job: dict) -> tuple[bool, dict]:
    """Wait for a job that was answered with `status`; (done, the job)."""
    while status in (200, 202) and job.get("status") in ("queued", "running"):
        status, job = call(port, "GET", f"{job['status_url']}?wait={MAX_WAIT}")
    return status == 200 and job.get("status") == "done", job


def scenario(port: int, texts: list[str], searchers: int, writers: int, seconds: float, documents: list[dict], tag: str) -> dict:
    stop = time.monotonic() + seconds
    searches: list[tuple[int, float]] = []
    writes: list[tuple[bool, float, int]] = []
    counter = itertools.count()

    def searcher(offset: int) -> None:
        for text in itertools.cycle(texts[offset:] + texts[:offset]):
            if time.monotonic() >= stop:
                return
            searches.append(get(port, search_path(text, "dense")))

    def writer(number: int) -> None:
        while time.monotonic() < stop:
            batch = []
            for _ in range(WRITE_BATCH):
                source = documents[next(counter) % len(documents)]
                batch.append({"id": f"{tag}-w{number}-{len(batch)}-{time.monotonic_ns()}", "title": source["title"], "text": source["text"]})
            started = time.perf_counter()
            ok, _ = write(port, "loadtest", batch)
            writes.append((ok, time.perf_counter() - started, len(batch)))

    threads = [threading.Thread(target=searcher, args=(i * 37,)) for i in range(searchers)]
    threads += [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # the writers finish waiting for their last jobs, with no searches beside them
    timings = [ms for _, ms in searches]
    p50, p95, p99 = np.percentile(timings, [50, 95, 99])
    return {"searchers": searchers, "writers": writers, "requests": len(searches), "rps": len(searches) / seconds,
            "p50": p50, "p95": p95, "p99": p99, "errors": sum(status != 200 for status, _ in searches) + sum(not ok for ok, _, _ in writes),
            "jobs": sum(ok for ok, _, _ in writes), "documents": sum(n for ok, _, n in writes if ok),
            "write_p50": float(np.percentile([s for ok, s, _ in writes if ok], 50)) if any(ok for ok, _, _ in writes) else None}


def big_batch(port: int, documents: list[dict], tag: str) -> dict:
    """(d): the time to accept MAX_BATCH_DOCUMENTS new documents, then the writer's time to apply them."""
    batch = [{"id": f"{tag}-big-{i}", "title": d["title"], "text": d["text"]} for i, d in enumerate(documents[:DEFAULTS["MAX_BATCH_DOCUMENTS"]])]
    body = json.dumps({"collection": "loadtest", "documents": batch}).encode()
    started = time.perf_counter()
    status, job = call(port, "POST", "/api/documents", body)
    accepted = time.perf_counter() - started
    if status != 202:
        raise SystemExit(f"the 1,000-document batch was refused: {status} {job}")
    ok, job = follow(port, status, job)
    applied = (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()
    return {"documents": len(batch), "bytes": len(body), "accept_s": accepted, "apply_s": applied, "ok": ok, "result": job.get("result")}


def largest_body(port: int, tag: str) -> dict:
    """(e): MAX_BATCH_DOCUMENTS documents filling MAX_CONTENT_LENGTH, all one id (the writer keeps the last)."""
    count, limit = DEFAULTS["MAX_BATCH_DOCUMENTS"], DEFAULTS["MAX_CONTENT_LENGTH"]
    overhead = len(json.dumps({"collection": "loadtest", "documents": [{"id": f"{tag}-largest", "text": ""}] * count}))
    text = ("lorem ipsum dolor sit amet " * limit)[:(limit - overhead) // count - 1]
    body = json.dumps({"collection": "loadtest", "documents": [{"id": f"{tag}-largest", "text": text}] * count}).encode()
    started = time.perf_counter()
    status, job = call(port, "POST", "/api/documents", body)
    accepted = time.perf_counter() - started
    ok, job = follow(port, status, job)
    return {"documents": count, "bytes": len(body), "status": status, "accept_s": accepted, "ok": ok}


def serve(instance: Path, database: str | None) -> tuple[subprocess.Popen, int]:
    settings = {"SEARCHAPP_API_TOKEN": TOKEN} | ({"SEARCHAPP_DATABASE_URL": database} if database else {})
    return serve_with_gunicorn(instance, settings=settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20, help="per scenario")
    parser.add_argument("--instance", help="serve this instance (default: the demo corpus indexed into --work)")
    parser.add_argument("--work", default="/tmp/bench-load")
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite in the instance)")
    args = parser.parse_args()
    instance = Path(args.instance) if args.instance else Path(args.work) / "demo"
    if not args.instance:
        build_demo(instance, args.database, DEFAULT_MODEL)
    texts, documents, tag = queries(), demo_documents(), f"run{int(time.time())}"
    process, port = serve(instance, args.database)
    try:
        for text in texts[:20]:  # warm-up: page cache, first allocations, both workers
            get(port, search_path(text, "dense"))
        rows = {name: scenario(port, texts, searchers, writers, args.seconds, documents, f"{tag}{name}")
                for name, searchers, writers in (("a", 8, 0), ("b", 8, 4), ("c", 16, 0))}
        batch = big_batch(port, documents, tag)
        largest = largest_body(port, tag)
    finally:
        process.terminate()
        process.wait(timeout=60)
    index = SearchIndex.open(instance, database_url=args.database)
    report = index.check()
    index.close()

    print(f"\ngunicorn -c gunicorn.conf.py, {args.database.split(':')[0] if args.database else 'sqlite'}, "
          f"{report.documents:,} documents, {args.seconds:.0f} s per scenario, dense k=10\n")
    print("| scenario | search requests | req/s | p50 ms | p95 ms | p99 ms | errors | jobs applied (documents) | write p50 s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = {"a": "(a) 8 searchers", "b": "(b) 8 searchers + 4 writers", "c": "(c) 16 searchers"}
    for name, row in rows.items():
        write_p50 = f"{row['write_p50']:.1f}" if row["write_p50"] is not None else "–"
        print(f"| {names[name]} | {row['requests']:,} | {row['rps']:.0f} | {row['p50']:.0f} | {row['p95']:.0f} | {row['p99']:.0f} | "
              f"{row['errors']} | {row['jobs']} ({row['documents']}) | {write_p50} |")
    ratio = rows["b"]["p50"] / rows["a"]["p50"]
    failed = sum(row["errors"] for row in rows.values())
    print(f"\n(b) p50 / (a) p50 = {ratio:.2f} (bar: <= 3); errors: {failed} (bar: 0) -> {'PASS' if ratio <= 3 and not failed else 'FAIL'}")
    print(f"(d) {batch['documents']:,} demo documents ({batch['bytes'] / 1e6:.1f} MB): 202 in {batch['accept_s']:.2f} s, "
          f"applied by the writer in {batch['apply_s']:.1f} s ({batch['documents'] / batch['apply_s']:.0f} docs/s), {batch['result']}")
    print(f"(e) largest body, {largest['documents']:,} documents in {largest['bytes'] / 2**20:.1f} MiB: HTTP {largest['status']} in "
          f"{largest['accept_s']:.2f} s, applied: {largest['ok']}")
    print(f"check after the run: {'ok' if report.ok else report.problems}")


if __name__ == "__main__":
    main()

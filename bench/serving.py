"""HTTP query latency of the app under gunicorn, and a load run: the numbers a deployment plans with.

For each size, an instance of Wikipedia paragraphs (one passage each, real text, encoded with the
shipped model; built once and kept in --work) is served by `gunicorn -w WORKERS 'searchapp:create_app()'`
on 127.0.0.1. Then:
- latency: real queries (SciFact claims and NFCorpus questions), one at a time, per mode; each is a
  fresh connection, as gunicorn's sync workers close them; timed at the client, HTTP included;
- load: CLIENTS threads sending dense queries back to back for SECONDS; every non-200 is an error.
Prints a markdown table for docs/benchmarks.md.

    .venv/bin/python bench/serving.py --chunks 10000 100000 [--workers 2] [--clients 8] [--seconds 30] [--work /tmp/bench-http]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import lzma
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder.paths import DEFAULT_MODEL  # noqa: E402
from indexer.ingest import IndexConfig, index_records  # noqa: E402
from indexer.readers import Record  # noqa: E402
from indexer.search_index import open_for_writing  # noqa: E402
from indexer.vector_index import choose_index_type  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
WIKIPEDIA = [DATA / "wikipedia_en_2014" / f"enwiki2014_{part}.txt.xz" for part in ("AB", "AC", "AD")]
QUERY_FILES = (DATA / "scifact" / "queries.jsonl", DATA / "nfcorpus" / "beir_test" / "queries.jsonl")
DOC_START = re.compile(r'<doc id="(\d+)"')
MIN_PARAGRAPH = 200


def paragraphs(paths: list[Path]) -> "itertools.Iterator[Record]":
    """Each paragraph of ≥ MIN_PARAGRAPH characters as a document, titled by its article."""
    for path in paths:
        yield from _paragraphs(path)


def _paragraphs(path: Path) -> "itertools.Iterator[Record]":
    doc_id, title, number = None, "", 0
    with lzma.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if match := DOC_START.match(line):
                doc_id, title, number = match.group(1), None, 0
            elif line == "</doc>":
                doc_id = None
            elif doc_id and line:
                if title is None:
                    title = line
                elif len(line) >= MIN_PARAGRAPH:
                    number += 1
                    yield Record(f"{doc_id}-{number}", title, line, {"article": doc_id}, str(path))


def build_instance(folder: Path, count: int) -> dict:
    with open_for_writing(folder, model=DEFAULT_MODEL) as index:
        # Unchanged paragraphs are skipped by their hash, so a kept instance costs a re-read and a save.
        index_records(index, itertools.islice(paragraphs(WIKIPEDIA), count), IndexConfig(collection="wikipedia"), show_progress=True)
        return index.stats()


def queries() -> list[str]:
    texts = [json.loads(line)["text"] for path in QUERY_FILES for line in path.open(encoding="utf-8")]
    return texts


def get(port: int, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        connection.close()
    return status, (time.perf_counter() - started) * 1000


def search_path(query: str, mode: str) -> str:
    return "/api/search?" + urllib.parse.urlencode({"q": query, "mode": mode, "k": 10})


def serve(folder: Path, workers: int | None = None, settings: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """gunicorn as the README runs it (`-c gunicorn.conf.py`) over `folder` on a free port, once it
    answers /api/health; `settings` are more SEARCHAPP_* variables, `workers` overrides the config's."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
               "--log-level", "warning", *(["-w", str(workers)] if workers else []), "searchapp:create_app()"]
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ | {"SEARCHAPP_INSTANCE": str(folder)} | (settings or {}))
    deadline = time.monotonic() + 120
    while get(port, "/api/health")[0] != 200:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("gunicorn did not start")
        time.sleep(0.2)
    return process, port


def latency(port: int, texts: list[str], mode: str, count: int) -> dict[str, float]:
    timings, errors = [], 0
    for text in itertools.islice(itertools.cycle(texts), count):
        status, ms = get(port, search_path(text, mode))
        errors += status != 200
        timings.append(ms)
    p50, p99 = np.percentile(timings, [50, 99])
    return {"p50": p50, "p99": p99, "errors": errors}


def load(port: int, texts: list[str], clients: int, seconds: float) -> dict[str, float]:
    stop = time.monotonic() + seconds
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        for text in itertools.cycle(texts[offset:] + texts[:offset]):
            if time.monotonic() >= stop:
                return
            outcome = get(port, search_path(text, "dense"))
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=client, args=(i * 37,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    timings = [ms for _, ms in results]
    return {"requests": len(results), "errors": sum(status != 200 for status, _ in results), "rps": len(results) / elapsed,
            "p50": float(np.percentile(timings, 50)), "p99": float(np.percentile(timings, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, nargs="+", default=[10_000, 100_000], help="passages per instance")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--queries", type=int, default=300, help="sequential queries per mode")
    parser.add_argument("--index-type", choices=("flat", "hnsw"), default=None, help="rebuild as this type (default: what indexing chooses by size)")
    parser.add_argument("--work", default="/tmp/bench-http")
    args = parser.parse_args()
    texts = queries()
    rows = []
    for count in args.chunks:
        folder = Path(args.work) / f"wikipedia-{count}"
        stats = build_instance(folder, count)
        wanted = args.index_type or choose_index_type(stats["chunks"])
        if stats["index_type"] != wanted:
            with open_for_writing(folder) as index:
                index.reindex(wanted)
                stats = index.stats()
        process, port = serve(folder, args.workers)
        try:
            for text in texts[:20]:  # warm-up: page cache, first allocations
                get(port, search_path(text, "hybrid"))
            row = {"chunks": stats["chunks"], "index": stats["index_type"]}
            for mode in ("dense", "lexical", "hybrid"):
                row[mode] = latency(port, texts, mode, args.queries)
            row["load"] = load(port, texts, args.clients, args.seconds)
            rows.append(row)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"\ngunicorn -w {args.workers}, k=10, {args.queries} sequential queries per mode; load: {args.clients} clients x {args.seconds:.0f} s, dense\n")
    print("| chunks | index | dense p50 / p99 ms | lexical p50 / p99 ms | hybrid p50 / p99 ms | load: requests, req/s, p50 / p99 ms | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for row in rows:
        cells = [f"{row[m]['p50']:.1f} / {row[m]['p99']:.1f}" for m in ("dense", "lexical", "hybrid")]
        errors = row["load"]["errors"] + sum(row[m]["errors"] for m in ("dense", "lexical", "hybrid"))
        load_cell = f"{row['load']['requests']:,}, {row['load']['rps']:.0f}, {row['load']['p50']:.1f} / {row['load']['p99']:.1f}"
        print(f"| {row['chunks']:,} | {row['index']} | {' | '.join(cells)} | {load_cell} | {errors} |")


if __name__ == "__main__":
    main()

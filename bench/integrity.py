"""What the index checksums cost, on a store of N chunks (100,000 by default): the save, a process's
first load with and without verifying the files, the check every later request makes, and what a
damaged index costs (a reader's fallback to the store, a writer's repair).

The store is synthetic, so no encoding is needed: random unit vectors of the shipped model's
dimension, and passages of 40 words drawn from a Zipf-distributed vocabulary, as real text is. All
files are hashed from the page cache (they were just written), as a reader on the writer's machine
finds them. Prints a markdown table for docs/benchmarks.md.

    .venv/bin/python bench/integrity.py [--chunks 100000] [--index-type flat] [--work /tmp/bench-integrity]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder.paths import DEFAULT_MODEL  # noqa: E402
from indexer import checksums  # noqa: E402
from indexer.chunking import Chunk  # noqa: E402
from indexer.lexical import LexicalIndex  # noqa: E402
from indexer.manifest import VECTORS_FILE, Manifest  # noqa: E402
from indexer.search_index import SearchIndex  # noqa: E402
from indexer.store import DocumentVersion  # noqa: E402
from indexer.vector_index import VectorIndex  # noqa: E402

WORDS_PER_PASSAGE = 40
VOCABULARY = 50_000
BATCH = 10_000


def timed(step: Callable[[], object], repeat: int = 3) -> float:
    """The median of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fill_store(index: SearchIndex, chunks: int) -> None:
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}x" for i in range(VOCABULARY)])
    collection = index.store.collection_id("bench")
    for start in range(0, chunks, BATCH):
        count = min(BATCH, chunks - start)
        vectors = rng.standard_normal((count, index.dim)).astype("<f4")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        picks = np.minimum(rng.zipf(1.2, (count, WORDS_PER_PASSAGE)) - 1, VOCABULARY - 1)
        texts = [" ".join(row) for row in words[picks]]
        documents = [DocumentVersion(None, str(start + i), "", text, {}, str(start + i), [Chunk(0, text, 0, len(text))])
                     for i, text in enumerate(texts)]
        index.store.write_documents(collection, documents, vectors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--index-type", choices=("flat", "hnsw"), default="flat")
    parser.add_argument("--work", default="/tmp/bench-integrity")
    args = parser.parse_args()
    folder = Path(args.work)
    shutil.rmtree(folder, ignore_errors=True)
    writer = SearchIndex.open(folder, model=DEFAULT_MODEL)
    started = time.perf_counter()
    fill_store(writer, args.chunks)
    print(f"store of {args.chunks:,} chunks filled in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    rows: dict[str, str] = {}
    started = time.perf_counter()
    writer.reindex(args.index_type)
    rows[f"save (rebuild a {args.index_type} index from the store, BM25, write, hash)"] = f"{time.perf_counter() - started:.2f} s"

    manifest = Manifest.read(folder)
    total = sum(record.size for record in manifest.files.values())
    biggest = folder / VECTORS_FILE
    hash_all = timed(lambda: [checksums.record(folder / name) for name in manifest.files])
    rows[f"SHA-256 of every file ({len(manifest.files)} files, {total / 1e6:.0f} MB)"] = f"{hash_all * 1000:.0f} ms ({total / hash_all / 1e9:.2f} GB/s)"
    for name, digest in (("SHA-256", lambda b: hashlib.sha256(b).digest()), ("BLAKE2b", lambda b: hashlib.blake2b(b).digest()),
                         ("CRC-32 (zlib)", zlib.crc32)):
        data = biggest.read_bytes()
        seconds = timed(lambda d=digest: d(data))
        rows[f"{name} of {VECTORS_FILE} in memory ({len(data) / 1e6:.0f} MB)"] = f"{seconds * 1000:.0f} ms ({len(data) / seconds / 1e9:.2f} GB/s)"
    plain = timed(lambda: (VectorIndex.load(biggest, mmap=True), LexicalIndex.load(folder / manifest.lexical, mmap=True)))
    rows["load both indexes memory-mapped, unverified"] = f"{plain * 1000:.1f} ms"
    first = timed(lambda: SearchIndex.open(folder, mmap=True).close())
    rows["a reader's first load (`SearchIndex.open`, mmap): verify + load"] = f"{first * 1000:.0f} ms"
    reader = SearchIndex.open(folder, mmap=True)
    calls = 2000
    steady = timed(lambda: [reader.refresh() for _ in range(calls)]) / calls
    rows["`refresh` when nothing changed (read the version file, stat 7 files)"] = f"{steady * 1e6:.0f} µs"

    with open(biggest, "r+b") as handle:  # a damaged FAISS file: readers fall back, writers repair
        handle.seek(biggest.stat().st_size // 2)
        handle.write(b"\x00" * 4096)
    started = time.perf_counter()
    fallback = SearchIndex.open(folder, mmap=True)
    fallback.serve_from_store()
    rows["a fresh reader over a damaged FAISS file: open + `serve_from_store` (flat)"] = f"{time.perf_counter() - started:.2f} s"
    started = time.perf_counter()
    SearchIndex.open(folder).sync()
    rows[f"a writer over it: open + `sync` (repair: rebuild {args.index_type} + save)"] = f"{time.perf_counter() - started:.2f} s"

    print(f"{args.chunks:,} chunks of dim {writer.dim}, {args.index_type} index\n\n| step | time |\n|---|---:|")
    for name, value in rows.items():
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()

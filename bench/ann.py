"""Vector index types on real embeddings: build time, recall@10 against exact search, query latency.

Recall is only meaningful on real embeddings (on uniform random vectors HNSW's recall collapses, see
FACTS.md), so this encodes SciFact with a checkpoint and compares every index type with exact search
on the same vectors, all in one process so machine load hits every row alike. Latency is one query
at a time, as the search app asks. Prints a markdown table for docs/benchmarks.md.

    .venv/bin/python bench/ann.py --model DIR --corpus ../shared/data/scifact/corpus.jsonl [--docs N] \
        [--queries ../shared/data/scifact/queries.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import faiss
import numpy as np

from encoder import Encoder
from encoder.paths import DEFAULT_MODEL
from indexer.vector_index import VectorIndex, default_nlist

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
K = 10
CORPUS_QUERIES = 1000  # corpus vectors reused as queries: many more queries than SciFact's 300
# What each row builds with, printed in the table. Flat comes first: it is the exact answer the others
# are scored against. IVF's nlist is left to `build` (about 4·√n).
SETTINGS = {
    "flat": {},
    "hnsw": {"hnsw_m": 32, "ef_search": 128, "ef_construction": 200},
    "ivf": {"nprobe": 32},
}


def read_texts(path: Path, limit: int | None = None) -> list[str]:
    """Title and text of each JSONL row (queries have no title), up to `limit` rows."""
    texts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            texts.append(f"{row.get('title', '')} {row['text']}".strip())
            if len(texts) == limit:
                break
    return texts


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(f, e)) / K for f, e in zip(found, exact)]))


def query_ms(index: VectorIndex, queries: np.ndarray) -> np.ndarray:
    index.search(queries[:1], K)  # warm-up: first-call allocations
    times = []
    for row in range(len(queries)):
        start = time.perf_counter()
        index.search(queries[row:row + 1], K)
        times.append((time.perf_counter() - start) * 1000)
    return np.array(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--corpus", type=Path, default=SCIFACT / "corpus.jsonl")
    parser.add_argument("--queries", type=Path, default=SCIFACT / "queries.jsonl")
    parser.add_argument("--docs", type=int, default=None, help="only the first N documents")
    args = parser.parse_args()

    encoder = Encoder.load(args.model)
    start = time.perf_counter()
    vectors = encoder.encode(read_texts(args.corpus, args.docs), show_progress=True)
    queries = encoder.encode(read_texts(args.queries))
    encode_s = time.perf_counter() - start
    ids = np.arange(len(vectors), dtype=np.int64)
    corpus_queries = vectors[np.random.default_rng(0).permutation(len(vectors))[:CORPUS_QUERIES]]

    query_sets = {"queries": queries, "corpus": corpus_queries}
    print(f"{len(vectors)} docs and {len(queries)} queries from {args.corpus.parent.name}, dim {encoder.dim}, "
          f"encoded in {encode_s:.0f} s by {args.model.name}; {os.cpu_count()} CPUs, faiss {faiss.__version__} "
          f"on {faiss.omp_get_max_threads()} threads; recall@{K} against exact search, "
          f"corpus as queries: {len(corpus_queries)} documents' own vectors")
    print()
    print(f"| index | build s | recall@{K} queries | recall@{K} corpus as queries | mean ms | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for index_type, settings in SETTINGS.items():
        start = time.perf_counter()
        index = VectorIndex.build(ids, vectors, index_type, **settings)
        build_s = time.perf_counter() - start
        found = {name: index.search(q, K)[1] for name, q in query_sets.items()}
        if index_type == "flat":
            exact = found
        if index_type == "ivf":
            settings = {**settings, "nlist": default_nlist(len(vectors))}
        name = " ".join([index_type, *(f"{key}={value}" for key, value in settings.items())])
        ms = query_ms(index, queries)
        print(f"| {name} | {build_s:.2f} | {recall(found['queries'], exact['queries']):.3f} "
              f"| {recall(found['corpus'], exact['corpus']):.3f} | {ms.mean():.3f} | {np.percentile(ms, 50):.3f} "
              f"| {np.percentile(ms, 99):.3f} |")

if __name__ == "__main__":
    main()

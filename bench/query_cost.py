"""Where one query's time goes, in-process on one thread (as in a server worker): encoding in
float32, in bf16 autocast and with bf16 weights (encoder/precision.py), each with its least cosine to
float32 over the queries; the vector search, BM25, the SQL for the candidates' documents (each step
through the retrievers the service uses, indexer/retrieval.py), and the whole
`SearchService.search` per mode, BM25 expanded and not (indexer/expansion.py). Run it on an instance built by bench/serving.py.

    .venv/bin/python bench/query_cost.py /tmp/bench-http/wikipedia-100000 [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder import Encoder, set_threads  # noqa: E402
from encoder.precision import WEIGHTS_IN_BF16  # noqa: E402
from indexer.expansion import DEFAULT_EXPANSION  # noqa: E402
from indexer.ranking import DocumentScope, Filters  # noqa: E402
from indexer.retrieval import MODES, DenseRetriever, LexicalRetriever  # noqa: E402
from indexer.search import MIN_CANDIDATES, SearchService  # noqa: E402
from indexer.vector_index import set_search_threads  # noqa: E402

SCIFACT_QUERIES = ROOT.parent / "shared" / "data" / "scifact" / "queries.jsonl"


def mean_ms(step: Callable[[str], object], queries: list[str]) -> float:
    for query in queries[:10]:  # warm-up
        step(query)
    started = time.perf_counter()
    for query in queries:
        step(query)
    return (time.perf_counter() - started) * 1000 / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("instance")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    set_threads(1)
    set_search_threads(1)
    queries = [json.loads(line)["text"] for line in SCIFACT_QUERIES.open(encoding="utf-8")][: args.queries]
    service = SearchService.open(args.instance)
    index = service.index
    encoders = {precision: Encoder.load(index.model, precision=precision) for precision in ("float32", "bfloat16", WEIGHTS_IN_BF16)}
    reference = encoders["float32"].encode(queries)
    agreement = {precision: float((encoder.encode(queries) * reference).sum(axis=1).min()) for precision, encoder in encoders.items()}
    scope = DocumentScope(index.store, Filters())
    dense = DenseRetriever(index, scope)
    lexical, expanded = LexicalRetriever(index, scope, expansion=None), LexicalRetriever(index, scope, expansion=DEFAULT_EXPANSION)
    vector = index.encoder.encode([queries[0]])
    chunk_ids = dense.chunks_near(vector, MIN_CANDIDATES).ids
    rows = {
        **{f"encode one query, {precision}{' (what the app does here)' if precision == index.encoder.precision else ''}, "
           f"least cosine to float32 {agreement[precision]:.6f}": mean_ms(lambda q, e=encoder: e.encode([q]), queries)
           for precision, encoder in encoders.items()},
        f"vector search, top {MIN_CANDIDATES} ({index.vectors.index_type}, {len(index.vectors):,} vectors)":
            mean_ms(lambda q: dense.chunks_near(vector, MIN_CANDIDATES), queries),
        f"BM25, top {MIN_CANDIDATES}": mean_ms(lambda q: lexical.chunks(q, MIN_CANDIDATES), queries),
        # Feedback read from the store and analysed, then the second pass: what `expand` adds (indexer/expansion.py).
        f"BM25 expanded ({DEFAULT_EXPANSION.documents} texts, {DEFAULT_EXPANSION.terms} terms), top {MIN_CANDIDATES}":
            mean_ms(lambda q: expanded.chunks(q, MIN_CANDIDATES), queries),
        # A new scope each time: a search's scope asks the store only once about a chunk.
        f"SQL: documents of {MIN_CANDIDATES} candidate chunks":
            mean_ms(lambda q: DocumentScope(index.store, Filters()).fetch(chunk_ids), queries),
        **{f"SearchService.search, {mode}{', expanded' if expand else ''}, k=10": mean_ms(lambda q, m=mode, e=expand: service.search(q, mode=m, expand=e), queries)
           for mode in MODES for expand in ((False, True) if mode != "dense" else (False,))},
    }
    print(f"{len(queries)} SciFact claims, one thread\n\n| step | ms per query |\n|---|---:|")
    for name, ms in rows.items():
        print(f"| {name} | {ms:.2f} |")


if __name__ == "__main__":
    main()

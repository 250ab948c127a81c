"""Reranked search latency through gunicorn: what `rerank=` costs per depth, reranker size and length.

Serves an existing instance (bench/serving.py builds and keeps one per size in its --work folder) with
`gunicorn -w WORKERS` as bench/serving.py does, once per reranker and max length, and sends real
queries (SciFact claims, NFCorpus questions) one at a time: hybrid without reranking, then reranked
at each depth. Timed at the client, HTTP included. The rerankers are made here, untrained (a
reranker's cost does not depend on its weights): the shipped encoder's backbone with a fresh head
(4 layers x 256, the size `manage.py train-reranker` starts from) and a random 6 x 384 BERT on the
same vocabulary; or give trained ones with --reranker. Prints a markdown table for docs/benchmarks.md.

    .venv/bin/python bench/rerank_serving.py --instance /tmp/bench-http/wikipedia-100000 [--depths 10 20 30 50]
        [--max-lengths 256 128] [--precisions auto int8 bfloat16 float32] [--queries 100] [--reranker FOLDER ...]
        [--work /tmp/rerank-bench]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from serving import get, queries, serve  # noqa: E402

from encoder import BertConfig, BertForPairScoring, CrossEncoder, load_checkpoint, reranking_precision  # noqa: E402
from indexer.reranking import RERANK_PRECISIONS  # noqa: E402
from encoder.paths import DEFAULT_MODEL  # noqa: E402


def untrained_rerankers(work: Path) -> list[Path]:
    """The two sizes measured: the shipped encoder's backbone with a fresh head, and a random 6 x 384."""
    shipped = load_checkpoint(DEFAULT_MODEL)
    small = CrossEncoder(shipped.build(BertForPairScoring), shipped.tokenizer, precision="float32")
    torch.manual_seed(0)
    larger = BertConfig(vocab_size=shipped.config.vocab_size, hidden_size=384, num_layers=6, num_heads=6, intermediate_size=1536,
                        max_position_embeddings=shipped.config.max_position_embeddings)
    large = CrossEncoder(BertForPairScoring(larger), shipped.tokenizer, precision="float32")
    return [small.save(work / "reranker-4x256"), large.save(work / "reranker-6x384")]


def size_of(folder: Path) -> str:
    config = load_checkpoint(folder).config
    return f"{config.num_layers} x {config.hidden_size}"


def search_path(query: str, depth: int) -> str:
    rerank = {"rerank": "1", "rerank_depth": depth} if depth else {"rerank": "0"}
    return "/api/search?" + urllib.parse.urlencode({"q": query, "mode": "hybrid", "k": 10} | rerank)


def latency(port: int, texts: list[str], depth: int, count: int) -> tuple[float, float, int]:
    timings, errors = [], 0
    for text in itertools.islice(itertools.cycle(texts), count):
        status, ms = get(port, search_path(text, depth))
        errors += status != 200
        timings.append(ms)
    p50, p99 = np.percentile(timings, [50, 99])
    return float(p50), float(p99), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", required=True, help="an instance folder (bench/serving.py --work keeps them)")
    parser.add_argument("--reranker", nargs="+", help="reranker folders (default: two untrained sizes, made in --work)")
    parser.add_argument("--depths", type=int, nargs="+", default=[10, 20, 30, 50])
    parser.add_argument("--max-lengths", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--precisions", nargs="+", choices=RERANK_PRECISIONS, default=["auto"],
                        help="the server's RERANK_PRECISION, one run each (auto: the fastest on this CPU)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queries", type=int, default=100, help="sequential queries per depth")
    parser.add_argument("--work", default="/tmp/rerank-bench")
    args = parser.parse_args()
    rerankers = [Path(folder) for folder in args.reranker] if args.reranker else untrained_rerankers(Path(args.work))
    texts = queries()
    rows = []
    for folder, max_length, precision in itertools.product(rerankers, args.max_lengths, args.precisions):
        settings = {"SEARCHAPP_RERANKER": str(folder), "SEARCHAPP_RERANK_MAX_LENGTH": str(max_length),
                    "SEARCHAPP_RERANK_PRECISION": precision}
        process, port = serve(Path(args.instance), args.workers, settings)
        try:
            for text in texts[:10]:  # warm-up: loads the reranker in both workers, page cache
                get(port, search_path(text, args.depths[0]))
            for depth in [0, *args.depths]:
                p50, p99, errors = latency(port, texts[10:], depth, args.queries)
                rows.append((size_of(folder), max_length, reranking_precision() if precision == "auto" else precision, depth, p50, p99, errors))
                print(rows[-1], flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"\ngunicorn -w {args.workers}, hybrid, k=10, {args.queries} sequential queries per row, one client\n")
    print("| reranker | max length | precision | depth | p50 ms | p99 ms | errors |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for size, max_length, precision, depth, p50, p99, errors in rows:
        print(f"| {size if depth else 'none'} | {max_length if depth else ''} | {precision if depth else ''} | {depth or ''} | {p50:.0f} | {p99:.0f} | {errors} |")


if __name__ == "__main__":
    main()

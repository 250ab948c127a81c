"""What one reranked search's scoring costs in the search process, by precision: `CrossEncoder.score` of a
claim against 30 titled SciFact abstracts cut to 128 tokens (what `RERANK_DEPTH` and `RERANK_MAX_LENGTH`
default to), in float32, bf16 autocast, bf16 weights and int8, one call per claim, the median of the calls.
The rerankers are bench/rerank_serving.py's untrained two sizes (a forward pass costs the same whatever
the weights), made in --work. It says which precision `RERANK_PRECISION=auto` should pick on this CPU;
bench/rerank_serving.py measures the chosen one through gunicorn.

    .venv/bin/python bench/rerank_cost.py [--threads 1] [--claims 20] [--work W/rr-bench]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT.parent), str(ROOT)]

from rerank_serving import size_of, untrained_rerankers  # noqa: E402

from encoder import CrossEncoder, passage_text, reranking_precision  # noqa: E402
from encoder.precision import INT8, WEIGHTS_IN_BF16  # noqa: E402

SCIFACT = ROOT.parents[1] / "shared" / "data" / "scifact"
PRECISIONS = ("float32", "bfloat16", WEIGHTS_IN_BF16, INT8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a server worker runs one)")
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--depth", type=int, default=30, help="passages scored per call")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the claims")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rerank-bench"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as lines:
        claims = [json.loads(line)["text"] for line in lines][: args.claims]
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as lines:
        abstracts = [passage_text(row["title"], row["text"]) for row in map(json.loads, lines)][: args.claims * args.depth]
    rows = []
    for folder in untrained_rerankers(args.work):
        for precision in PRECISIONS:
            reranker = CrossEncoder.load(folder, precision=precision, max_length=args.max_length)
            reranker.score(claims[0], abstracts[: args.depth])  # warm-up
            timings = []
            for _ in range(args.rounds):
                for number, claim in enumerate(claims):
                    started = time.perf_counter()
                    reranker.score(claim, abstracts[number * args.depth:(number + 1) * args.depth])
                    timings.append(time.perf_counter() - started)
            rows.append((size_of(folder), precision, statistics.median(timings) * 1000))
            print(rows[-1], flush=True)
    print(f"\n{args.depth} pairs of {args.max_length} tokens a call, {args.threads} thread(s), median of {len(timings)} calls; "
          f"`auto` here: {reranking_precision()}\n")
    print("| reranker | " + " | ".join(PRECISIONS) + " |")
    print("|---|" + "---:|" * len(PRECISIONS))
    for size in dict.fromkeys(size for size, _, _ in rows):
        print(f"| {size} | " + " | ".join(f"{ms:.1f}" for s, _, ms in rows if s == size) + " |")


if __name__ == "__main__":
    main()

"""Hard negatives for the reranker: each training query with its positive and BM25's top non-positives.

    PYTHONPATH=. .venv/bin/python scripts/mine_rerank_pairs.py [--negatives 7] [--cap 4000]
        [--sets medquad pubmedqa_labeled ...] [--out gpu_data/rerank_pairs.jsonl.xz]

The question-to-passage sets whose licence lets us ship the model are mixed as the dense model's data
is (`encoder.training.mix_pairs`: capped per source, de-duplicated, free of evaluation and dev-selection
texts); then each source's passages become one BM25 pool (`indexer.pair_mining`), and a query's
`--negatives` highest-ranked passages that are not its positives are its hard negatives: passages that
share its words but answer another question, which is what a reranker must learn to put below. The
file holds one line per (query, positive, negative), the pairs format the trainer groups back, each
passage written once and named by number after that (`write_pairs`).
Prints per source the groups, the negatives found and the time; and the table of sources as JSON.
"""

import argparse
import time
from collections import defaultdict
from pathlib import Path

from encoder.training import MixConfig, evaluation_texts, load_pairs, mix_pairs, write_pairs, write_table
from indexer.pair_mining import MiningConfig, with_bm25_negatives

ROOT = Path(__file__).resolve().parents[1]
# The redistributable question-to-passage sets: biomedical first (SciFact and NFCorpus are), then
# general questions over Wikipedia paragraphs.
RERANK_SETS = ("medquad", "pubmedqa_labeled", "covid_qa_deepset", "squad_dev_explorer_html", "qed_nq_dev")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sets", nargs="*", default=list(RERANK_SETS))
    parser.add_argument("--cap", type=int, default=4000, help="most queries kept per set")
    parser.add_argument("--negatives", type=int, default=7, help="hard negatives per query")
    parser.add_argument("--top-k", type=int, default=MiningConfig.top_k, help="BM25 depth searched per query")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "gpu_data" / "rerank_pairs.jsonl.xz")
    args = parser.parse_args()

    started = time.perf_counter()
    mixed, counts = mix_pairs(load_pairs(args.shared_data, args.sets), evaluation_texts(args.shared_data),
                              MixConfig(cap_per_source=args.cap, redistributable_only=True, seed=args.seed))
    print(f"mixed {len(mixed)} pairs from {len(counts)} sets: {time.perf_counter() - started:.1f}s", flush=True)
    by_source = defaultdict(list)
    for pair in mixed:
        by_source[pair.source].append(pair)
    lines = []
    for source, pairs in by_source.items():
        started = time.perf_counter()
        mined = list(with_bm25_negatives(pairs, MiningConfig(top_k=args.top_k), count=args.negatives))
        found = sum(p.negative is not None for p in mined)
        print(f"{source}: {len(pairs)} groups, {found} negatives ({found / max(len(pairs), 1):.1f} a group), "
              f"{time.perf_counter() - started:.1f}s", flush=True)
        lines += mined
    args.out.parent.mkdir(parents=True, exist_ok=True)
    written = write_pairs(lines, args.out)
    write_table(counts, args.out.with_suffix("").with_suffix(".sources.json"))
    print(f"{args.out}: {written} lines, {args.out.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

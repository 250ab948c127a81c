"""Choose BM25's k1 and b on labelled queries that are not test queries: SciFact's train claims and
NFCorpus's dev split, as bench/tune_fusion.py takes them. BM25 over whole documents is built outside any
instance for each setting (`indexer.evaluation.document_bm25_rankings`, which ranks as the service does:
tests/indexer/test_expansion.py), unexpanded (a lexical search) and expanded (hybrid's BM25 side), and the
expanded list is fused with the model's dense list (each document by its best passage, cut as indexing
cuts it; both lists as deep as the service's: `SEARCH_DEPTH`) at the model's dense share. nDCG@10 of lexical and hybrid on both sets; the setting with the
best mean of the four is printed last. Prints a markdown table for docs/benchmarks.md.

    .venv/bin/python bench/tune_bm25.py [--work /tmp/tune-fusion] [--model models/default]
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "bench")]

from encoder import Encoder  # noqa: E402
from encoder.fusion import fused_rankings  # noqa: E402
from encoder.training import read_beir, retrieval_metrics  # noqa: E402
from encoder.training.evaluation import dense_lists  # noqa: E402
from encoder.training.selection import PASSAGES_FILE, SEARCH_DEPTH, read_spans  # noqa: E402
from indexer.evaluation import RANKING_DEPTH, document_bm25_rankings, document_index  # noqa: E402
from indexer.expansion import DEFAULT_EXPANSION  # noqa: E402
from indexer.lexical import B, K1  # noqa: E402
from indexer.retrieval import dense_weight  # noqa: E402
from prepare_gpu_data import write_passages  # noqa: E402  (scripts/prepare_gpu_data.py)
from tune_fusion import dev_folders, dev_parser  # noqa: E402

GRID = list(itertools.product((0.6, 0.9, 1.2, 1.5), (0.2, 0.4, 0.6, 0.75, 0.9)))  # (k1, b)


def ndcg(rankings: dict, qrels: dict) -> float:
    return retrieval_metrics({qid: ids[:RANKING_DEPTH] for qid, ids in rankings.items()}, qrels)["ndcg@10"]


def main() -> None:
    args = dev_parser(__doc__).parse_args()
    encoder = Encoder.load(args.model)
    share = dense_weight(encoder.settings, args.model)
    sets = {}
    for name, folder, split in zip(("SciFact train", "NFCorpus dev"), dev_folders(args), ("train", "dev")):
        beir = read_beir(folder, split)
        if not (folder / PASSAGES_FILE).is_file():
            write_passages(folder, split, encoder)
        sets[name] = (beir, dense_lists(encoder, beir, k=SEARCH_DEPTH, passages=read_spans(folder / PASSAGES_FILE), passage_depth=SEARCH_DEPTH))
    print(f"model {args.model}; dense share {share}; engine default k1 {K1}, b {B}; expansion {DEFAULT_EXPANSION}")
    print("\n| k1 | b | " + " | ".join(f"{name} lexical | {name} hybrid" for name in sets) + " | mean |\n|---:|---:|" + "---:|" * (2 * len(sets) + 1))
    best = None
    for k1, b in GRID:
        scores = []
        for beir, dense in sets.values():
            index = document_index(beir, k1, b)
            plain = document_bm25_rankings(beir, SEARCH_DEPTH, None, index)
            expanded = document_bm25_rankings(beir, SEARCH_DEPTH, DEFAULT_EXPANSION, index)
            scores += [ndcg({qid: ids for qid, (ids, _) in plain.items()}, beir.qrels), ndcg(fused_rankings(dense, expanded, share), beir.qrels)]
        mean = float(np.mean(scores))
        print(f"| {k1} | {b} | " + " | ".join(f"{s:.2f}" for s in scores) + f" | {mean:.2f} |", flush=True)
        if best is None or mean > best[2]:
            best = (k1, b, mean)
    print(f"\nbest on these queries: k1 {best[0]}, b {best[1]} (mean nDCG@10 {best[2]:.2f})")


if __name__ == "__main__":
    main()

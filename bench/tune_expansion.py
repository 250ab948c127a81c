"""Choose how BM25 expands queries (RM3, indexer/expansion.py) on labelled queries that are not test
queries: SciFact's train claims and NFCorpus's dev split, as bench/tune_fusion.py takes them. Every
query is searched through `LexicalRetriever` as the search service searches it, once unexpanded and
once per expansion tried, and each lexical list is also fused with the query's dense list by the
model's own dense share (hybrid). nDCG@10 of both modes on both sets; the expansion with the best mean
of the four is printed last. Prints a markdown table for docs/benchmarks.md, with the mean time of a
lexical search (grouped by document; the bench's read of the passages' ids included), expanded or not.

    .venv/bin/python bench/tune_expansion.py [--work /tmp/tune-fusion] [--model models/default] [--bm25-unit passage]
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "bench")]

from encoder.training import read_beir  # noqa: E402
from indexer.evaluation import indexed_service  # noqa: E402
from indexer.expansion import DEFAULT_EXPANSION, ExpansionConfig  # noqa: E402
from indexer.ranking import DocumentScope, Filters, Ranking  # noqa: E402
from indexer.retrieval import DenseRetriever, LexicalRetriever, convex_fusion, dense_weight  # noqa: E402
from tune_fusion import DEPTH, dev_folders, dev_parser, ndcg  # noqa: E402

GRID = [ExpansionConfig(documents, terms, weight)
        for documents, terms, weight in itertools.product((3, 5, 10), (10, 20, 40), (0.6, 0.7, 0.8, 0.9))]


class DevSet:
    """One set's judged queries over its instance, its dense lists taken once."""

    def __init__(self, folder: Path, split: str, instance: Path, model: Path, bm25: str) -> None:
        beir = read_beir(folder, split=split)
        self.qrels, self.queries, self.bm25 = beir.qrels, beir.queries, bm25
        self.service = indexed_service(folder, instance, model, show_progress=True)
        self.index = self.service.index
        self.names: dict[int, str] = {}
        self.dense = {query_id: self.search(DenseRetriever, text) for query_id, text in self.queries.items()}
        share = dense_weight(self.index.encoder.settings, self.index.model)
        self.fuse = convex_fusion((share, 1 - share), (DenseRetriever.score_floor, LexicalRetriever.score_floor))

    def search(self, retriever: type, text: str, expansion: ExpansionConfig | None = None) -> Ranking:
        """The retriever's documents for `text`, as keys (their external ids remembered for nDCG)."""
        scope = DocumentScope(self.index.store, Filters())
        chunks = retriever(self.index, scope, self.bm25, expansion).search(text, DEPTH)
        for passage in self.index.store.passages(chunks.ids).values():
            self.names[passage.document] = passage.external_id
        return Ranking(scope.documents(chunks.ids), chunks.scores)

    def measure(self, expansion: ExpansionConfig | None) -> tuple[float, float, float]:
        """(lexical nDCG@10, hybrid nDCG@10, mean ms of a lexical search) with this expansion."""
        lists, took = [], 0.0
        for query_id, text in self.queries.items():
            started = time.perf_counter()
            lexical = self.search(LexicalRetriever, text, expansion)
            took += (time.perf_counter() - started) * 1000 / len(self.queries)  # the passages read for nDCG included
            lists.append((query_id, self.dense[query_id], lexical))
        return (ndcg(lambda pair: pair[1], self.qrels, lists, self.names), ndcg(self.fuse, self.qrels, lists, self.names), took)


def main() -> None:
    args = dev_parser(__doc__).parse_args()
    scifact, nfcorpus = dev_folders(args)
    model = args.model.resolve()
    sets = {"SciFact train": DevSet(scifact, "train", args.work / "scifact-instance", model, args.bm25_unit),
            "NFCorpus dev": DevSet(nfcorpus, "dev", args.work / "nfcorpus-dev-instance", model, args.bm25_unit)}
    print(f"model {args.model}; BM25 over {args.bm25_unit} units; hybrid at the model's dense share; engine default {DEFAULT_EXPANSION}")
    print("\n| expansion (documents, terms, query weight) | " + " | ".join(f"{name} lexical | {name} hybrid" for name in sets)
          + " | mean | ms a lexical search |\n|---|" + "---:|" * (2 * len(sets) + 2))
    best = None
    for expansion in [None, *GRID]:
        measured = [found.measure(expansion) for found in sets.values()]
        scores = [score for lexical, hybrid, _ in measured for score in (lexical, hybrid)]
        mean, took = float(np.mean(scores)), float(np.mean([ms for *_, ms in measured]))
        name = "none" if expansion is None else f"{expansion.documents}, {expansion.terms}, {expansion.original_weight}"
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in scores) + f" | {mean:.2f} | {took:.1f} |", flush=True)
        if expansion is not None and (best is None or mean > best[1]):
            best = (name, mean)
    print(f"\nbest expansion on these queries: {best[0]} (mean nDCG@10 {best[1]:.2f})")
    for found in sets.values():
        found.index.close()


if __name__ == "__main__":
    main()

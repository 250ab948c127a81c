"""Choose how hybrid search fuses its dense and BM25 lists, on labelled queries that are not test
queries: SciFact's train claims (with their evidence abstracts) and NFCorpus's dev split (title
queries, graded judgements). Each query's two document lists are taken once through the retrievers,
exactly as the search service takes them (at the depth `eval-retrieval` searches), then fused in
every way tried; nDCG@10 says which is best. Prints a markdown table for docs/benchmarks.md. The BM25 list
ranks the unit `--bm25-unit` names (default: the engine's default), as the search service's would.
`--save` writes the best convex weight into the model's config.json (`hybrid_dense_weight`), where
every hybrid search with that model takes it from (indexer/retrieval.py).

`--scored-by-both` adds the same fusions once more, with every candidate (a document in either list) given
its true score by both retrievers, where the service's fusion gives a document one list lacks that list's
floor (a cosine of -1, a BM25 of 0): it asks whether scoring the missing side would pay for the search it costs.

`--instance SET=FOLDER` searches an instance already indexed from that set's folder, with its own
model, in place of indexing it with `--model`: an instance adapted to its collection (`manage.py
adapt`) has a model of its own per collection, so no one model stands for both sets.

    .venv/bin/python bench/tune_fusion.py [--work /tmp/tune-fusion] [--model models/default] [--bm25-unit passage] [--save]
    .venv/bin/python bench/tune_fusion.py --instance scifact-train=W/ad/a-scifact-train --instance nfcorpus-dev=W/ad/a-nfcorpus-dev
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from encoder.checkpoint import save_settings  # noqa: E402
from encoder.paths import DEFAULT_MODEL  # noqa: E402
from encoder.training import DEFAULT_DATA_DIR, read_beir, retrieval_metrics  # noqa: E402
from indexer.evaluation import RANKING_DEPTH  # noqa: E402
from indexer.ingest import IndexConfig, index_paths  # noqa: E402
from indexer.ranking import DocumentScope, Filters, Ranking  # noqa: E402
from indexer.retrieval import BM25_UNITS, DEFAULT_BM25_UNIT, DENSE_WEIGHT_KEY, DenseRetriever, LexicalRetriever, convex_fusion, reciprocal_rank_fusion  # noqa: E402
from indexer.search import MIN_CANDIDATES, SearchService  # noqa: E402
from indexer.search_index import open_for_writing  # noqa: E402
from prepare_gpu_data import write_nfcorpus_dev, write_scifact_train  # noqa: E402  (scripts/prepare_gpu_data.py)

DEPTH = max(MIN_CANDIDATES, 2 * RANKING_DEPTH)  # the chunks per list that `eval-retrieval`'s searches take
INSTANCES = {"scifact-train": "scifact-instance", "nfcorpus-dev": "nfcorpus-dev-instance"}  # set -> its instance under --work
WEIGHTS = [round(w, 2) for w in np.arange(0.0, 1.0001, 0.05)]  # the dense list's weight


Lists = list[tuple[str, Ranking, Ranking]]  # each query's (id, dense documents, BM25 documents)


def document_lists(folder: Path, split: str, instance: Path, model: Path | None, bm25: str,
                   scored_by_both: bool = False) -> tuple[dict, Lists, dict, Lists]:
    """The set's qrels, each query's lists as the service takes them, document key -> id, and (with
    `scored_by_both`, else empty) the same queries' lists holding every candidate of the two, each by its
    true score in that retriever's ranking of the whole collection (absent from BM25's: it shares no term,
    and scores 0). The instance is indexed from `folder` with `model`, or with its own model when `model`
    is None."""
    beir = read_beir(folder, split=split)
    with open_for_writing(instance, model=model) as index:
        index_paths(index, [folder], IndexConfig(format="beir"), show_progress=True)
    service = SearchService.open(instance)
    index = service.index
    lists, names, rescored = [], {}, []

    def by_document(query_id: str, scope: DocumentScope, dense: Ranking, lexical: Ranking) -> tuple[str, Ranking, Ranking]:
        for passage in index.store.passages(np.concatenate([dense.ids, lexical.ids])).values():
            names[passage.document] = passage.external_id
        return query_id, Ranking(scope.documents(dense.ids), dense.scores), Ranking(scope.documents(lexical.ids), lexical.scores)

    for query_id, text in beir.queries.items():
        scope = DocumentScope(index.store, Filters())
        retrievers = DenseRetriever(index, scope), LexicalRetriever(index, scope, bm25)
        found = [retriever.search(text, DEPTH) for retriever in retrievers]
        lists.append(by_document(query_id, scope, *found))
        if scored_by_both:  # each retriever keeps the query's encoding or scores: the second search only selects
            candidates = set(scope.documents(np.concatenate([ranking.ids for ranking in found])).tolist())
            rescored.append(by_document(query_id, scope, *(_among(retriever.search(text, len(index.vectors)), candidates, scope)
                                                    for retriever in retrievers)))
    index.close()
    return beir.qrels, lists, names, rescored


def _among(ranking: Ranking, documents: set[int], scope: DocumentScope) -> Ranking:
    """The entries of a document ranking whose documents are in `documents`, in its order."""
    return ranking[[position for position, document in enumerate(scope.documents(ranking.ids).tolist()) if document in documents]]


def ndcg(fuse, qrels: dict, lists: list, names: dict) -> float:
    rankings = {query_id: [names[key] for key in fuse([dense, lexical]).ids[:RANKING_DEPTH].tolist()] for query_id, dense, lexical in lists}
    return retrieval_metrics(rankings, qrels)["ndcg@10"]


def print_row(name: str, fuse, sets) -> float:
    """One markdown row: the fusion's nDCG@10 on each set's (qrels, lists, names), and their mean (returned)."""
    scores = [ndcg(fuse, *found) for found in sets]
    mean = float(np.mean(scores))
    print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in scores) + f" | {mean:.2f} |")
    return mean


def dev_parser(description: str) -> argparse.ArgumentParser:
    """The options of a bench that tunes on these dev sets (this one, bench/tune_expansion.py)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tune-fusion"))
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--bm25-unit", choices=BM25_UNITS, default=DEFAULT_BM25_UNIT)
    return parser


def dev_folders(args: argparse.Namespace) -> tuple[Path, Path]:
    """SciFact's train claims and NFCorpus's dev split as BEIR folders under --work, written once."""
    nfcorpus = args.work / "nfcorpus-dev"
    if not (nfcorpus / "corpus.jsonl").exists():
        write_nfcorpus_dev(args.data / "nfcorpus" / "original", nfcorpus)
    return write_scifact_train(args.data, args.work / "scifact-train"), nfcorpus


def instance_argument(text: str) -> tuple[str, Path]:
    """`--instance SET=FOLDER` as (set, folder)."""
    name, sep, folder = text.partition("=")
    if not sep or not folder or name not in INSTANCES:
        raise argparse.ArgumentTypeError(f"{text!r}: give SET=FOLDER, SET one of {', '.join(INSTANCES)}")
    return name, Path(folder)


def main() -> None:
    parser = dev_parser(__doc__)
    parser.add_argument("--save", action="store_true", help="write the best convex weight into the model's config.json")
    parser.add_argument("--scored-by-both", action="store_true",
                        help="also fuse with every candidate scored by both retrievers (the docstring says why)")
    parser.add_argument("--instance", action="append", default=[], metavar="SET=FOLDER", type=instance_argument,
                        help=f"search this instance of SET ({' or '.join(INSTANCES)}) with its own model")
    args = parser.parse_args()
    given = dict(args.instance)
    if args.save and given:
        parser.error("--save writes into --model's config.json: with --instance, no one model is tuned")

    def lists(name: str, folder: Path, split: str) -> tuple[dict, Lists, dict, Lists]:
        instance, model = (given[name], None) if name in given else (args.work / INSTANCES[name], args.model.resolve())
        return document_lists(folder, split, instance, model, args.bm25_unit, args.scored_by_both)

    scifact, nfcorpus = dev_folders(args)
    found = {"SciFact train": lists("scifact-train", scifact, "train"), "NFCorpus dev": lists("nfcorpus-dev", nfcorpus, "dev")}
    sets = {title: (qrels, plain, names) for title, (qrels, plain, names, _) in found.items()}
    fusions = {"dense only": lambda lists: lists[0], "BM25 only": lambda lists: lists[1],
               "reciprocal ranks (k = 60)": reciprocal_rank_fusion}
    convex = {f"convex, dense weight {w:.2f}": w for w in WEIGHTS}
    fusions |= {name: convex_fusion((w, 1 - w), (DenseRetriever.score_floor, LexicalRetriever.score_floor)) for name, w in convex.items()}
    models = ", ".join(f"{name}: {folder}" for name, folder in given.items()) or str(args.model)
    print(f"model {models}; BM25 over {args.bm25_unit} units; queries: " + ", ".join(f"{name} {len(qrels)}" for name, (qrels, _, _) in sets.items()))
    print("\n| fusion | " + " | ".join(sets) + " | mean |\n|---|" + "---:|" * (len(sets) + 1))
    best = None
    for name, fuse in fusions.items():
        mean = print_row(name, fuse, sets.values())
        if name in convex and (best is None or mean > best[1]):
            best = (name, mean)
    if args.scored_by_both:
        rescored = [(qrels, both, names) for qrels, _, names, both in found.values()]
        for name in convex:
            print_row(f"{name}, every candidate scored by both", fusions[name], rescored)
    print(f"\nbest convex fusion on these queries: {best[0]} (mean nDCG@10 {best[1]:.2f})")
    if args.save:
        save_settings(args.model, {DENSE_WEIGHT_KEY: convex[best[0]]})
        print(f"saved {DENSE_WEIGHT_KEY} {convex[best[0]]} in {args.model / 'config.json'}")


if __name__ == "__main__":
    main()

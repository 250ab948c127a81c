"""An experiment on dev queries (SciFact train claims, NFCorpus dev; never test): does hybrid gain if the
dense query vector is moved toward the documents that expanded BM25 ranks first (Rocchio feedback,
q + beta * the mean of the top k documents' mean vectors, normalised) before the dense list is fused
with BM25? Each (k, beta, dense weight) is scored by nDCG@10; prints a markdown table, best first.
Not in the product: docs/benchmarks.md ("A second GPU call") says why.

    .venv/bin/python bench/dense_feedback.py [--work /tmp/tune-fusion] [--model models/default]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent)]
from tune_fusion import DEPTH, dev_folders, dev_parser  # noqa: E402  (bench/tune_fusion.py: it sets the import path too)

from encoder.training import read_beir, retrieval_metrics  # noqa: E402
from indexer.evaluation import RANKING_DEPTH  # noqa: E402
from indexer.ingest import IndexConfig, index_paths  # noqa: E402
from indexer.ranking import DocumentScope, Filters, Ranking  # noqa: E402
from indexer.retrieval import DenseRetriever, LexicalRetriever, convex_fusion  # noqa: E402
from indexer.search import SearchService  # noqa: E402
from indexer.search_index import open_for_writing  # noqa: E402

FEEDBACK_DOCUMENTS = (3, 5, 10)
BETAS = (0.0, 0.25, 0.5, 1.0, 2.0)
DENSE_WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)


def feedback_vector(index, document_keys: list[int]) -> np.ndarray:
    """The mean of the documents' unit mean vectors; zeros when BM25 found none (no feedback)."""
    centroids = []
    for key in document_keys:
        _, vectors = index.store.document_vectors(key)
        if len(vectors):
            centroid = vectors.mean(axis=0)
            centroids.append(centroid / max(float(np.linalg.norm(centroid)), 1e-12))
    return np.mean(centroids, axis=0, keepdims=True) if centroids else np.zeros((1, index.vectors.dim), np.float32)


def ndcg_by_setting(folder: Path, split: str, instance: Path, model: Path, bm25: str) -> dict[tuple[int, float, float], float]:
    beir = read_beir(folder, split=split)
    if not instance.exists():
        with open_for_writing(instance, model=model) as index:
            index_paths(index, [folder], IndexConfig(format="beir"), show_progress=True)
    index = SearchService.open(instance).index
    encoder = index.query_encoder(index.vectors)
    names, rows = {}, []
    for query_id, text in beir.queries.items():
        scope = DocumentScope(index.store, Filters())
        lexical = LexicalRetriever(index, scope, bm25).search(text, DEPTH)  # expanded, as hybrid's BM25 is
        lexical_documents = scope.documents(lexical.ids)
        query = encoder.encode([text])
        dense = {}
        for k in FEEDBACK_DOCUMENTS:
            feedback = feedback_vector(index, lexical_documents[:k].tolist())
            for beta in BETAS:
                vector = query + beta * feedback
                found = DenseRetriever(index, scope).search_vector((vector / np.linalg.norm(vector)).astype(np.float32), DEPTH)
                dense[k, beta] = Ranking(scope.documents(found.ids), found.scores)
                names.update((p.document, p.external_id) for p in index.store.passages(found.ids).values())
        names.update((p.document, p.external_id) for p in index.store.passages(lexical.ids).values())
        rows.append((query_id, dense, Ranking(lexical_documents, lexical.scores)))
    index.close()
    figures = {}
    for (k, beta) in rows[0][1]:
        for weight in DENSE_WEIGHTS:
            fuse = convex_fusion((weight, 1 - weight), (DenseRetriever.score_floor, LexicalRetriever.score_floor))
            rankings = {query_id: [names[d] for d in fuse([dense[k, beta], lexical]).ids[:RANKING_DEPTH].tolist()]
                        for query_id, dense, lexical in rows}
            figures[k, beta, weight] = retrieval_metrics(rankings, beir.qrels)["ndcg@10"]
    return figures


def main() -> None:
    args = dev_parser(__doc__).parse_args()
    scifact, nfcorpus = dev_folders(args)
    a = ndcg_by_setting(scifact, "train", args.work / "scifact-instance", args.model.resolve(), args.bm25_unit)
    b = ndcg_by_setting(nfcorpus, "dev", args.work / "nfcorpus-dev-instance", args.model.resolve(), args.bm25_unit)
    print("| feedback documents | beta | dense weight | SciFact train | NFCorpus dev | mean |\n|---:|---:|---:|---:|---:|---:|")
    for key in sorted(a, key=lambda key: -(a[key] + b[key])):
        print(f"| {key[0]} | {key[1]} | {key[2]} | {a[key]:.2f} | {b[key]:.2f} | {(a[key] + b[key]) / 2:.2f} |")


if __name__ == "__main__":
    main()

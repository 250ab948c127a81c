"""Retrieval quality measured through the app's own query path.

`manage.py eval-retrieval` indexes a BEIR folder with the indexer, exactly as `manage.py index`
would, then sends every judged query through `SearchService.search`, the function behind the UI and
`/api/search`: chunking, grouping by document, BM25 and fusion are all part of what is measured.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from encoder import passage_text
from encoder.training import read_beir, retrieval_metrics
from encoder.training.evaluation import BeirSet, ScoredRankings

from .expansion import DEFAULT_QUERY_EXPANSION, FEEDBACK_CHARS, ExpansionConfig, expands, query_scores
from .ingest import IndexConfig, index_paths
from .lexical import B, K1, LexicalIndex
from .reranking import Reranker, RerankUnavailable, search_label
from .retrieval import DEFAULT_BM25_UNIT, MODES
from .search import SearchService
from .search_index import open_for_writing

RANKING_DEPTH = 100  # Recall@100 needs the top 100 documents


def document_bm25_rankings(beir: BeirSet, k: int = RANKING_DEPTH, expansion: ExpansionConfig | None = None,
                           index: LexicalIndex | None = None) -> ScoredRankings:
    """Each judged query's top k document ids and scores by our BM25 over whole documents (title and
    text, as a passage is indexed), expanded as the search service expands (`query_scores`), outside any
    instance: a first stage that needs no model. `index`: the documents' index, in corpus order, if built
    already (`document_index`)."""
    names = list(beir.corpus)
    index = document_index(beir) if index is None else index
    def texts_of(ids: np.ndarray) -> dict[int, str]:  # as the store reads a document's for feedback
        return {key: passage_text(beir.corpus[names[key]][0], beir.corpus[names[key]][1][:FEEDBACK_CHARS]) for key in ids.tolist()}
    rankings = {}
    for query_id, text in beir.queries.items():
        keys, scores = index.top(query_scores(index, text, expansion, texts_of), k)
        rankings[query_id] = ([names[key] for key in keys.tolist()], scores.tolist())
    return rankings


def document_index(beir: BeirSet, k1: float = K1, b: float = B) -> LexicalIndex:
    """BM25 over the set's whole documents, keyed by their position in the corpus."""
    return LexicalIndex.build(((key, passage_text(title, text)) for key, (title, text) in enumerate(beir.corpus.values())), k1, b)


def evaluate_beir(folder: Path, model: Path, modes: Sequence[str] = MODES, work: Path | None = None,
                  show_progress: bool = False, bm25: str = DEFAULT_BM25_UNIT, rerank: int = 0,
                  reranker: Reranker | None = None, split: str = "test",
                  expansion: str = DEFAULT_QUERY_EXPANSION) -> dict[str, dict[str, float]]:
    """Metrics (×100) and per-query latency percentiles (ms, inside the service) for each mode, BM25
    ranking `bm25` units (see indexer/retrieval.py) and expanding queries where `expansion` says
    (indexer/expansion.py: `expands`), its top `rerank` documents reranked by `reranker`
    if asked (then the figures are named `mode + rerank@N`: `search_label`).
    `work` keeps the instance for the next run (indexing is skipped for unchanged documents), and an
    instance kept so is measured with its own model (after `manage.py adapt`, the adapted one; each
    mode's figures name it); without it, a temporary folder is used and removed. `split` names the
    judged queries (`qrels/<split>.tsv`): choices between settings are made on "dev" or "train"."""
    if rerank and (problem := (reranker or Reranker(None)).problem):
        raise RerankUnavailable(problem)  # before indexing, which takes minutes
    beir = read_beir(folder, split)
    with tempfile.TemporaryDirectory(prefix="eval-retrieval-") as scratch:
        service = indexed_service(folder, Path(work) if work else Path(scratch), model, show_progress, reranker)
        results = {}
        for mode in modes:
            rankings, latencies, label = {}, [], search_label(mode, rerank)
            for query_id, text in tqdm(beir.queries.items(), desc=label, unit="query", disable=not show_progress):
                found = service.search(text, mode=mode, k=RANKING_DEPTH, bm25=bm25, rerank=rerank,
                                       expand=expands(expansion, mode))
                rankings[query_id] = [hit.id for hit in found.hits]
                latencies.append(found.took_ms)
            results[label] = retrieval_metrics(rankings, beir.qrels) | latency_percentiles(latencies) | {
                "queries": len(beir.queries), "documents": len(beir.corpus), "model": str(service.index.model)}
        service.index.close()
    return results


def indexed_service(folder: Path, instance: Path, model: Path, show_progress: bool = False,
                    reranker: Reranker | None = None) -> SearchService:
    """The search service over `instance` once the BEIR folder is indexed into it, exactly as `manage.py
    index` would (unchanged documents are skipped); an instance that exists keeps its own model. The
    caller closes `service.index`."""
    with open_for_writing(instance, default_model=model) as index:
        index_paths(index, [folder], IndexConfig(format="beir"), show_progress=show_progress)
    return SearchService.open(instance, reranker=reranker)  # as an app process opens it: mapped, float32 queries


def latency_percentiles(latencies: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of per-query latencies (ms), under the names the results tables print."""
    return {f"p{q} ms": float(value) for q, value in zip((50, 95, 99), np.percentile(latencies, [50, 95, 99]))}

"""Retrievers: one interface for every search mode, and the mode names that choose them.

A retriever answers `search(query, k)` with a `Ranking` of documents: those among its top `k` chunks
(of each list, for a fusion) that the search's filters accept, each once, by its best chunk (id and
score), best first. `k` counts chunks, not documents (except for BM25 over whole documents, which ranks
documents), so the search service can widen `k` until a page of documents is full.
Grouping by document and filtering are the `DocumentScope`'s (indexer/ranking.py), given to each
retriever when it is built; the service, the evaluation and anything that wraps a retriever (a
reranker of the top N) see documents only.

BM25 ranks one of two units, which the search chooses (`bm25`, the `BM25_UNIT` setting): whole
documents, each shown by its best passage for the query, or passages, a document ranking by its best
one. Whole documents won on both test sets (docs/benchmarks.md, "BM25 over whole documents").

A retriever is built for one search: `RETRIEVERS[mode](index, scope, bm25=unit, expansion=config)`. That is what lets the dense
one encode the query once while the service asks again with a larger `k`, and lets the two lists
of a hybrid search share one store call per round through their common scope. Adding a mode is one
class with a `score_kind` and that constructor, and one entry in `RETRIEVERS`; the service, the
command line, the API and its OpenAPI document take the names from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol

import numpy as np

from encoder.checkpoint import fraction_setting
from encoder.fusion import BM25_FLOOR, COSINE_FLOOR, convex_scores

from .expansion import DEFAULT_EXPANSION, FEEDBACK_CHARS, ExpansionConfig, query_scores
from .lexical import LexicalIndex
from .ranking import DocumentScope, Ranking
from .search_index import SearchIndex
from .vector_index import VectorIndex

RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al. 2009)
# The dense list's share of a hybrid score belongs to the model: how far its cosines can be trusted
# against BM25 is a property of the model, chosen for it on labelled queries that are not test queries
# (bench/tune_fusion.py --save writes it into the model's config.json under this key; `adapt` keeps its
# parent's). The shipped model's is 0.05 (docs/benchmarks.md, "Query expansion").
DENSE_WEIGHT_KEY = "hybrid_dense_weight"
# For a model that names none (an imported Hugging Face model, a fresh training run): BM25 leads and the
# dense list breaks its near-ties, as for the models shipped so far, so an untuned model cannot pull hybrid far
# below BM25 (an equal share did: docs/benchmarks.md, "Hybrid fusion").
FALLBACK_DENSE_WEIGHT = 0.1
BM25_UNITS = ("document", "passage")  # what BM25 ranks: whole documents, or passages (a document by its best)
DEFAULT_BM25_UNIT = "document"  # measured ahead on SciFact and NFCorpus: docs/benchmarks.md, "BM25 over whole documents"

# Rankings of the same things (document keys, in a hybrid search), best first -> one ranking of them.
Fusion = Callable[[Sequence[Ranking]], Ranking]


class Retriever(Protocol):
    score_kind: ClassVar[str]  # what a raw score is, for people reading one (the UI says it)

    def search(self, query: str, k: int) -> Ranking:
        """Documents among the top `k` chunks for `query`, as the module docstring says."""
        ...


class RetrieverFactory(Protocol):
    """What `RETRIEVERS` maps a mode to: a retriever class, or anything built the same way."""

    score_kind: str

    def __call__(self, index: SearchIndex, scope: DocumentScope, bm25: str = DEFAULT_BM25_UNIT,
                 expansion: ExpansionConfig | None = DEFAULT_EXPANSION) -> Retriever: ...


class ChunkRetriever:
    """A retriever over one index of chunks: it ranks chunks (`chunks`), its scope makes documents of them."""

    score_kind: ClassVar[str]
    score_floor: ClassVar[float]

    def __init__(self, index: SearchIndex, scope: DocumentScope, bm25: str = DEFAULT_BM25_UNIT,
                 expansion: ExpansionConfig | None = DEFAULT_EXPANSION) -> None:
        if bm25 not in BM25_UNITS:
            raise ValueError(f"unknown BM25 unit {bm25!r}; expected one of {', '.join(BM25_UNITS)}")
        self.index = index  # its indexes are read at each search: a refresh may replace them
        self.scope = scope
        self.bm25 = bm25  # the search's BM25 unit, for the retrievers that rank by BM25
        self.expansion = expansion  # how BM25 expands the query (None: it does not), for the same

    def chunks(self, query: str, k: int) -> Ranking:
        """The top `k` chunks for `query`, best first, several of one document among them."""
        raise NotImplementedError

    def search(self, query: str, k: int) -> Ranking:
        return self.scope.best_per_document(self.chunks(query, k))


class DenseRetriever(ChunkRetriever):
    """Chunks by cosine similarity of their vectors to the encoded query (FAISS)."""

    score_kind = "cosine similarity"
    score_floor = COSINE_FLOOR  # the lowest score there can be: what a score is normalised from in a fusion

    def __init__(self, index: SearchIndex, scope: DocumentScope, bm25: str = DEFAULT_BM25_UNIT,
                 expansion: ExpansionConfig | None = DEFAULT_EXPANSION) -> None:
        super().__init__(index, scope, bm25, expansion)
        self._encoded: dict[tuple[str, object], np.ndarray] = {}  # (query, vector index) -> vector, for the rounds of one search

    def chunks(self, query: str, k: int) -> Ranking:
        """The vector index is read once, and the query encoded by the model that made it: a refresh
        that swaps both (after `adapt`) between the encoding and the search cannot mix them."""
        vectors = self.index.vectors
        key = (query, vectors)
        if key not in self._encoded:
            self._encoded[key] = self.index.query_encoder(vectors).encode([query])
        return self.chunks_near(self._encoded[key], k, vectors)

    def chunks_near(self, vector: np.ndarray, k: int, vectors: VectorIndex | None = None) -> Ranking:
        """The top `k` chunks for a (1, dim) vector of the encoder's (a query's, or a document's mean)."""
        scores, ids = (vectors or self.index.vectors).search(vector, k)
        live = ids[0] >= 0  # fewer than k vectors: FAISS pads with -1
        return Ranking(ids[0][live], scores[0][live])

    def search_vector(self, vector: np.ndarray, k: int) -> Ranking:
        """`search` for a vector rather than a text: "more like this" searches a document's mean vector."""
        return self.scope.best_per_document(self.chunks_near(vector, k))


class LexicalRetriever(ChunkRetriever):
    """BM25 (indexer/lexical.py) over the search's unit; only texts sharing a term with the query (or,
    expanded, with its feedback terms). Over passages, the top `k` chunks; over whole documents, the
    top `k` documents, each as one chunk."""

    score_kind = "BM25"
    score_floor = BM25_FLOOR

    def __init__(self, index: SearchIndex, scope: DocumentScope, bm25: str = DEFAULT_BM25_UNIT,
                 expansion: ExpansionConfig | None = DEFAULT_EXPANSION) -> None:
        super().__init__(index, scope, bm25, expansion)
        self._scores: dict[tuple[str, LexicalIndex], np.ndarray] = {}  # (query, index) -> every text's score

    def chunks(self, query: str, k: int) -> Ranking:
        if self.bm25 == "passage":
            return Ranking(*self.index.lexical.top(self.scores(query, self.index.lexical), k))
        lexical = self.index.document_lexical
        keys, scores = lexical.top(self.scores(query, lexical), k)
        shown = self.shown_passages(query, keys)  # a document deleted since the index was saved has none
        kept = [position for position, key in enumerate(keys.tolist()) if key in shown]
        return Ranking(np.array([shown[key] for key in keys[kept].tolist()], dtype=np.int64), scores[kept])

    def scores(self, query: str, lexical: LexicalIndex) -> np.ndarray:
        """Every text's score in `lexical` for the query, expanded or not (`query_scores`), worked out once
        per query and index: the rounds of a widening search only select from it. The feedback comes
        from the whole index, before filters: they narrow what is shown, not what the query's words mean."""
        key = (query, lexical)
        if key not in self._scores:
            documents = lexical is not self.index.lexical
            self._scores[key] = query_scores(lexical, query, self.expansion, lambda ids: self.index.store.indexed_texts(
                ids, documents=documents, max_chars=FEEDBACK_CHARS))
        return self._scores[key]

    def shown_passages(self, query: str, documents: np.ndarray) -> dict[int, int]:
        """The chunk that stands for each of `documents`: its best by passage BM25 where one shares a
        term with `query`, else its first. Only these documents' chunks are scored (a binary search
        per term and chunk), so the cost follows the candidates, not the collection."""
        rows = self.index.store.document_chunks(documents)  # by document, then position in it
        scores = self.index.lexical.scores_of(query, np.array([chunk for _, _, chunk in rows], dtype=np.int64))
        best: dict[int, tuple[float, int]] = {}
        for (document, _, chunk), score in zip(rows, scores.tolist()):
            if document not in best or score > best[document][0]:
                best[document] = (score, chunk)
        return {document: chunk for document, (_, chunk) in best.items()}


def reciprocal_rank_fusion(rankings: Sequence[Ranking], k: int = RRF_K) -> Ranking:
    """Each ranking adds 1/(k + rank) to an id's score; ties keep the order in which ids were first met."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking.ids.tolist(), start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    order = sorted(scores, key=lambda key: -scores[key])
    return Ranking(np.array(order, dtype=np.int64), np.array([scores[key] for key in order]))


def convex_fusion(weights: Sequence[float], floors: Sequence[float]) -> Fusion:
    """Rankings fused by `encoder.fusion.convex_scores`: each list's scores normalised from its floor to
    its top, then summed with `weights`."""
    def fuse(rankings: Sequence[Ranking]) -> Ranking:
        keys, scores = convex_scores([(ranking.ids.tolist(), ranking.scores) for ranking in rankings], weights, floors)
        return Ranking(np.array(keys, dtype=np.int64), scores)
    return fuse


def dense_weight(settings: dict[str, object], model: object = "the model") -> float:
    """The dense share of a hybrid score that a model's settings (`Encoder.settings`, its config.json)
    name, else FALLBACK_DENSE_WEIGHT (a CheckpointError naming the model if it is not a share)."""
    return fraction_setting(settings, DENSE_WEIGHT_KEY, FALLBACK_DENSE_WEIGHT, model)


class HybridRetriever:
    """Several chunk retrievers' document rankings, fused. Each list is grouped by document and
    filtered before the fusion, so a document counts once per list, at its best chunk's rank, and a
    filter removes documents rather than ranks. The passage shown is the one from the first list
    (dense, by default) that has the document. `fusion` is how the lists combine: by default a convex
    combination of their normalised scores with `weights` (measured ahead of reciprocal ranks, which
    fell below BM25 alone), dense and BM25 by the share the dense model names (`dense_weight`);
    any function of document rankings to one ranking will do."""

    score_kind = "weighted sum of normalised scores"

    def __init__(self, index: SearchIndex, scope: DocumentScope, bm25: str = DEFAULT_BM25_UNIT,
                 expansion: ExpansionConfig | None = DEFAULT_EXPANSION,
                 parts: Sequence[type[ChunkRetriever]] = (DenseRetriever, LexicalRetriever),
                 weights: Sequence[float] | None = None, fusion: Fusion | None = None) -> None:
        self.scope = scope
        self.parts = [part(index, scope, bm25, expansion) for part in parts]
        if fusion is None and weights is None:
            share = dense_weight(index.query_encoder(index.vectors).settings, index.model)
            weights = (share, 1 - share)
        self.fusion = fusion or convex_fusion(weights, [part.score_floor for part in parts])

    def search(self, query: str, k: int) -> Ranking:
        lists = [part.chunks(query, k) for part in self.parts]
        self.scope.fetch(np.concatenate([ranking.ids for ranking in lists]))  # one store call for all lists
        shown: dict[int, int] = {}  # document -> the chunk that stands for it
        by_document = []
        for ranking in (self.scope.best_per_document(chunks) for chunks in lists):
            documents = self.scope.documents(ranking.ids)
            for document, chunk in zip(documents.tolist(), ranking.ids.tolist()):
                shown.setdefault(document, chunk)
            by_document.append(Ranking(documents, ranking.scores))
        fused = self.fusion(by_document)
        return Ranking(np.array([shown[document] for document in fused.ids.tolist()], dtype=np.int64), fused.scores)


RETRIEVERS: dict[str, RetrieverFactory] = {
    "dense": DenseRetriever,
    "lexical": LexicalRetriever,
    "hybrid": HybridRetriever,
}
MODES = tuple(RETRIEVERS)
# The mode a search is in unless it says (the app's `SEARCH_MODE` setting): hybrid ranked best of the three on
# every set of judged non-test queries we hold (NFCorpus dev's four query files, WikiQA: bench/query_styles.py)
# and on the test sets (docs/benchmarks.md, "Hybrid by default"). Dense alone is the product's weakest ranking
# until the model is better than BM25.
DEFAULT_MODE = "hybrid"
SCORE_KINDS = {mode: factory.score_kind for mode, factory in RETRIEVERS.items()}  # what a raw score is, by mode

"""The search service: a query in, ranked documents with highlighted snippets out.

The web UI, the JSON API and `manage.py eval-retrieval` all call `SearchService.search`, so what is
evaluated is exactly what users get. The flow (DESIGN.md, "Query"): the mode's retriever
(indexer/retrieval.py) ranks documents by their best chunk, from FAISS (dense), from BM25 (lexical)
or both fused by a weighted sum of their normalised scores (hybrid), keeping only those that pass the collection and metadata
filters; optionally the top N of that ranking are rescored by a cross-encoder (indexer/reranking.py);
then a snippet is cut around each shown chunk's matching words.

Filters are applied to the retrieved candidates, whose number grows (×4 a round) until the page is
full or the whole index has been ranked, so a selective filter costs more rounds, never wrong pages.
`total` is the number of documents among the candidates that pass the filters: an exact count for
a lexical query (every chunk sharing a term is a candidate), a lower bound where a page could not
be filled otherwise.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from encoder import serving_precision

from .expansion import DEFAULT_EXPANSION, DEFAULT_QUERY_EXPANSION, expands
from .lexical import terms
from .ranking import DocumentScope, Filters, Ranking
from .reranking import Reranker, RerankUnavailable
from .retrieval import DEFAULT_BM25_UNIT, DEFAULT_MODE, RETRIEVERS, DenseRetriever, dense_weight
from .search_index import VERSION_FILE, SearchIndex
from .snippets import Snippet, make_snippet
from .store import StoredDocument
from .store_reads import Passage

MIN_CANDIDATES = 100  # the fewest chunks a retriever ranks in a search's first round


@dataclass
class Hit:
    key: int  # the store's primary key of the document
    id: str  # the document's own id
    collection: str
    title: str
    snippet: Snippet
    score: float
    metadata: dict
    passage: tuple[int, int]  # the best chunk's character span in the document's text
    reranked: bool = False  # whether `score` is the reranker's (the document was in the reranked top N)

    def as_json(self) -> dict:
        return {"id": self.id, "collection": self.collection, "title": self.title, "snippet": self.snippet.text,
                "highlights": [list(h) for h in self.snippet.highlights], "score": round(float(self.score), 6),
                "metadata": self.metadata, "passage": list(self.passage), "reranked": self.reranked}


@dataclass
class Results:
    query: str
    mode: str
    took_ms: float
    total: int
    hits: list[Hit]
    top_score: float = 0.0  # the mode's first result's score, on every page of the ranking
    rerank_depth: int = 0  # how many of the first documents the reranker rescored; 0: not reranked
    reranked_top_score: float = 0.0  # the reranker's best score, when reranked
    rerank_first_stage_weight: float = 0.0  # how much of the mode's order the reranked scores keep (`blended`)

    def relevance(self, hit: Hit) -> float:
        """`hit`'s score as a fraction of the top result's, in [0, 1]: the one reading of a score that
        means the same in every mode (a cosine, a BM25 sum and a fused rank have nothing else in
        common). On page 2 it is still relative to result 1, so it keeps falling from page to page.
        A top score of 0 or less (cosines of a query like nothing indexed) makes every result 0.
        A reranker's own score is a logit margin, which only differs meaningfully from another: its
        relevance is exp(score - best), the odds ratio to the best reranked document; blended with the
        mode's order, a reranked score is in [0, 1], and its fraction of the best one's is used."""
        if hit.reranked and self.rerank_first_stage_weight:
            return min(1.0, max(0.0, hit.score / self.reranked_top_score)) if self.reranked_top_score > 0 else 0.0
        if hit.reranked:
            return float(np.exp(min(0.0, hit.score - self.reranked_top_score)))
        if self.top_score <= 0:
            return 0.0
        return min(1.0, max(0.0, hit.score / self.top_score))

    def as_json(self) -> dict:
        return {"query": self.query, "mode": self.mode, "took_ms": round(self.took_ms, 2), "total": self.total,
                "reranked": self.rerank_depth > 0, "rerank_depth": self.rerank_depth,
                **({"rerank_first_stage_weight": self.rerank_first_stage_weight} if self.rerank_depth else {}),
                "results": [hit.as_json() for hit in self.hits]}


class AmbiguousDocument(LookupError):
    """An id that names documents in several collections, asked for without a collection."""


class UnknownCollection(ValueError):
    """A search restricted to a collection that does not exist: said, rather than an empty page that
    looks like "nothing matched" (a typo in a collection name would otherwise go unnoticed)."""


class SearchService:
    """Searches one instance; safe to share between the threads of a process."""

    def __init__(self, index: SearchIndex, reranker: Reranker | None = None) -> None:
        self.index = index
        self.reranker = reranker or Reranker(None)  # asked only by reranked searches
        self._refresh_lock = threading.Lock()

    @classmethod
    def open(cls, folder: str | Path, database_url: str | None = None, default_model: str | Path | None = None,
             reranker: Reranker | None = None) -> "SearchService":
        """The instance's indexes memory-mapped, and the model loaded now, so the first query pays nothing
        extra. Queries are encoded with the linear layers' weights in bf16 where the CPU multiplies bf16
        natively, in float32 elsewhere (`serving_precision`): for one short text, bf16 autocast spends
        most of its time casting the weights again, which bf16 weights kept once do not. Either way a
        query's vector agrees with float32's to a cosine of 0.99998 or more (bench/query_cost.py)."""
        index = SearchIndex.open(folder, database_url=database_url, default_model=default_model, mmap=True, precision=serving_precision())
        index.encoder.encode(["warm up"])
        dense_weight(index.encoder.settings, index.model)  # a bad hybrid share stops the server now, not each hybrid search
        service = cls(index, reranker)
        service.refresh()
        return service

    @classmethod
    def open_existing(cls, folder: str | Path, database_url: str | None = None, default_model: str | Path | None = None,
                      reranker: Reranker | None = None) -> "SearchService":
        """`open` for a reader that has no use for an empty instance (the command line's `search`): a folder
        without a saved index is refused rather than created, with the command that makes one."""
        if not (Path(folder) / VERSION_FILE).is_file():
            raise FileNotFoundError(f"{folder} holds no index: build one with `manage.py --instance {folder} index PATH...`")
        return cls.open(folder, database_url, default_model, reranker)

    def refresh(self) -> None:
        """Pick up a newer saved index (written by `manage.py index` or an API upsert). Where the saved
        one is damaged and this process has no good copy of it, search what the store holds instead
        (`SearchIndex.serve_from_store`): slower to start, never down."""
        with self._refresh_lock:
            self.index.refresh()
            self.index.serve_from_store()

    def search(self, query: str, mode: str = DEFAULT_MODE, k: int = 10, offset: int = 0, filters: Filters | None = None,
               bm25: str = DEFAULT_BM25_UNIT, rerank: int = 0, expand: bool | None = None) -> Results:
        """A page of `mode`'s ranking; `bm25` is the unit BM25 ranks in lexical and hybrid modes (see
        indexer/retrieval.py), and `expand` whether BM25 expands the query by feedback from its top texts
        (indexer/expansion.py; None: as `DEFAULT_QUERY_EXPANSION` says for the mode); `rerank` > 0 has
        the reranker rescore that many of the first documents (RerankUnavailable where the service has none)."""
        build = RETRIEVERS.get(mode)
        if build is None:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(RETRIEVERS)}")
        if rerank and (problem := self.reranker.problem):
            raise RerankUnavailable(problem)
        started = time.perf_counter()
        self.refresh()
        filters = filters or Filters()
        if filters.collection is not None:
            self._check_collection(filters.collection)
        if expand is None:
            expand = expands(DEFAULT_QUERY_EXPANSION, mode)
        retriever = build(self.index, DocumentScope(self.index.store, filters), bm25=bm25, expansion=DEFAULT_EXPANSION if expand else None)
        wanted = max(offset + k, rerank)  # the reranked head is the same whichever page of it is asked for
        available = max(len(self.index.vectors), len(self.index.lexical))
        candidates = max(MIN_CANDIDATES, 2 * wanted)
        while True:
            ranked = retriever.search(query, candidates)
            if len(ranked) >= wanted or candidates >= available:
                break
            candidates *= 4
        top_score = float(ranked.scores[0]) if len(ranked) else 0.0
        passages = self.index.store.passages(ranked.ids[:rerank].tolist() + ranked.ids[offset:offset + k].tolist())
        depth, reranked_top, blend = min(rerank, len(ranked)), 0.0, 0.0
        if depth:
            ranked, depth = self.reranker.rerank(query, ranked, passages, depth, self.index.store)
            reranked_top, blend = (float(ranked.scores[0]) if depth else 0.0), self.reranker.model.first_stage_weight
        hits = self._hits(ranked[offset:offset + k], set(terms(query)), passages, reranked=max(0, depth - offset))
        return Results(query, mode, (time.perf_counter() - started) * 1000, len(ranked), hits, top_score, depth, reranked_top, blend)

    def _check_collection(self, name: str) -> None:
        names = self.collections()
        if name not in names:
            raise UnknownCollection(f"no collection named {name!r}; collections: {', '.join(names) or 'none yet'}")

    def _hits(self, ranked: Ranking, query_terms: set[str], passages: dict[int, Passage] | None = None,
              reranked: int = 0) -> list[Hit]:
        """The ranked chunks as results, the first `reranked` of them scored by the reranker, with their
        passages' text (`passages`, or fetched now: only for the page shown)."""
        chunks, scores = ranked.ids.tolist(), ranked.scores.tolist()
        passages = dict(passages or {})
        if missing := [chunk for chunk in chunks if chunk not in passages]:
            passages |= self.index.store.passages(missing)
        return [_hit(passages[chunk], score, query_terms, position < reranked)
                for position, (chunk, score) in enumerate(zip(chunks, scores)) if chunk in passages]

    def document(self, external_id: str, collection: str | None = None) -> StoredDocument | None:
        """The document with this id (in `collection`, if given); None if there is none."""
        found = self.index.store.documents_with_id(external_id, collection)
        if len(found) > 1:
            raise AmbiguousDocument(f"id {external_id!r} exists in several collections; name one")
        return found[0] if found else None

    def similar(self, document: StoredDocument, k: int = 5) -> list[Hit]:
        """Documents nearest to this one: its chunks' mean vector, searched like a query."""
        self.refresh()
        _, vectors = self.index.store.document_vectors(document.key)
        if not len(vectors):
            return []
        centroid = vectors.mean(axis=0, keepdims=True)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        scope = DocumentScope(self.index.store, Filters())
        ranked = DenseRetriever(self.index, scope).search_vector(centroid, MIN_CANDIDATES + 4 * len(vectors))
        others = np.flatnonzero(scope.documents(ranked.ids) != document.key)[:k]
        return self._hits(ranked[others], set())

    def collections(self) -> list[str]:
        return self.index.store.collection_names()


def _hit(passage: Passage, score: float, query_terms: set[str], reranked: bool = False) -> Hit:
    return Hit(passage.document, passage.external_id, passage.collection, passage.title,
               make_snippet(passage.text, query_terms), score, passage.metadata, passage.span, reranked)

"""The search service: a query in, ranked documents with highlighted snippets out.

The web UI, the JSON API and `manage.py eval-retrieval` all call `SearchService.search`, so what is
evaluated is exactly what users get. The flow (DESIGN.md, "Query"): encode the query, take the top
chunks from FAISS (dense), from BM25 (lexical) or both fused by reciprocal rank (hybrid), group them
by document (a document ranks by its best chunk), filter on collection and metadata, then cut a
snippet around the best chunk's matching words.

Filters are applied to the retrieved candidates, whose number grows (×4 a round) until the page is
full or the whole index has been ranked, so a selective filter costs more rounds, never wrong pages.
`total` is the number of documents among the candidates that pass the filters: an exact count for
a lexical query (every chunk sharing a term is a candidate), a lower bound where a page could not
be filled otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from indexer.lexical import matching_spans, terms
from indexer.search_index import VERSION_FILE, SearchIndex
from indexer.store import ChunkOwner, Passage, StoredDocument

MODES = ("dense", "lexical", "hybrid")
SCORE_KINDS = {"dense": "cosine similarity", "lexical": "BM25", "hybrid": "reciprocal-rank fusion"}  # what a raw score is
RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al. 2009)
MIN_CANDIDATES = 100
SNIPPET_CHARS = 280
ELLIPSIS = "…"


@dataclass(frozen=True)
class Filters:
    """Which documents may be returned: one collection, and metadata fields each equal to one of
    the given values (compared as text, so `year=2014` matches the number 2014)."""

    collection: str | None = None
    metadata: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def accept(self, collection: str, metadata: dict) -> bool:
        if self.collection is not None and collection != self.collection:
            return False
        return all(_as_text(metadata.get(name)) in values for name, values in self.metadata.items())


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Snippet:
    text: str
    highlights: list[tuple[int, int]]  # character spans of `text` that match query terms

    def parts(self) -> list[tuple[str, bool]]:
        """The snippet as (text, highlighted) pieces, for templates that escape each piece."""
        pieces, position = [], 0
        for start, end in self.highlights:
            pieces += [(self.text[position:start], False), (self.text[start:end], True)]
            position = end
        pieces.append((self.text[position:], False))
        return [p for p in pieces if p[0]]


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

    def as_json(self) -> dict:
        return {"id": self.id, "collection": self.collection, "title": self.title, "snippet": self.snippet.text,
                "highlights": [list(h) for h in self.snippet.highlights], "score": round(float(self.score), 6),
                "metadata": self.metadata, "passage": list(self.passage)}


@dataclass
class Results:
    query: str
    mode: str
    took_ms: float
    total: int
    hits: list[Hit]
    top_score: float = 0.0  # the first result's score, on every page of the ranking

    def relevance(self, hit: Hit) -> float:
        """`hit`'s score as a fraction of the top result's, in [0, 1]: the one reading of a score that
        means the same in every mode (a cosine, a BM25 sum and a fused rank have nothing else in
        common). On page 2 it is still relative to result 1, so it keeps falling from page to page.
        A top score of 0 or less (cosines of a query like nothing indexed) makes every result 0."""
        if self.top_score <= 0:
            return 0.0
        return min(1.0, max(0.0, hit.score / self.top_score))

    def as_json(self) -> dict:
        return {"query": self.query, "mode": self.mode, "took_ms": round(self.took_ms, 2), "total": self.total,
                "results": [hit.as_json() for hit in self.hits]}


class AmbiguousDocument(LookupError):
    """An id that names documents in several collections, asked for without a collection."""


class UnknownCollection(ValueError):
    """A search restricted to a collection that does not exist: said, rather than an empty page that
    looks like "nothing matched" (a typo in a collection name would otherwise go unnoticed)."""


class SearchService:
    """Searches one instance; safe to share between the threads of a process."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self._refresh_lock = threading.Lock()

    @classmethod
    def open(cls, folder: str | Path, database_url: str | None = None, default_model: str | Path | None = None) -> "SearchService":
        """The instance's indexes memory-mapped, and the model loaded now, so the first query pays nothing
        extra. Queries are encoded in float32: for one short text, bf16 autocast spends more on
        casting the weights than it saves (3.4 vs 4.3 ms a query, bench/query_cost.py), and the
        vectors agree to a cosine of 0.99997 or more with the bf16 ones indexed (bench/encode.py)."""
        index = SearchIndex.open(folder, database_url=database_url, default_model=default_model, mmap=True, precision="float32")
        index.encoder.encode(["warm up"])
        service = cls(index)
        service.refresh()
        return service

    @classmethod
    def open_existing(cls, folder: str | Path, database_url: str | None = None, default_model: str | Path | None = None) -> "SearchService":
        """`open` for a reader that has no use for an empty instance (the command line's `search`): a folder
        without a saved index is refused rather than created, with the command that makes one."""
        if not (Path(folder) / VERSION_FILE).is_file():
            raise FileNotFoundError(f"{folder} holds no index: build one with `manage.py --instance {folder} index PATH...`")
        return cls.open(folder, database_url, default_model)

    def refresh(self) -> None:
        """Pick up a newer saved index (written by `manage.py index` or an API upsert). Where the saved
        one is damaged and this process has no good copy of it, search what the store holds instead
        (`SearchIndex.serve_from_store`): slower to start, never down."""
        with self._refresh_lock:
            self.index.refresh()
            self.index.serve_from_store()

    def search(self, query: str, mode: str = "dense", k: int = 10, offset: int = 0, filters: Filters | None = None) -> Results:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        started = time.perf_counter()
        self.refresh()
        filters = filters or Filters()
        if filters.collection is not None:
            self._check_collection(filters.collection)
        wanted = offset + k
        available = max(len(self.index.vectors), len(self.index.lexical))
        candidates = max(MIN_CANDIDATES, 2 * wanted)
        query_vector = self.index.encoder.encode([query]) if mode != "lexical" else None
        while True:
            ranked = self._rank(query, query_vector, mode, candidates, filters)
            if len(ranked) >= wanted or candidates >= available:
                break
            candidates *= 4
        hits = self._hits(ranked[offset:wanted], set(terms(query)))
        top_score = ranked[0][1] if ranked else 0.0
        return Results(query, mode, (time.perf_counter() - started) * 1000, len(ranked), hits, top_score)

    def _check_collection(self, name: str) -> None:
        names = self.collections()
        if name not in names:
            raise UnknownCollection(f"no collection named {name!r}; collections: {', '.join(names) or 'none yet'}")

    def _hits(self, ranked: list[tuple[ChunkOwner, float]], query_terms: set[str]) -> list[Hit]:
        passages = self.index.store.passages([candidate.chunk for candidate, _ in ranked])
        return [_hit(passages[candidate.chunk], score, query_terms) for candidate, score in ranked if candidate.chunk in passages]

    def _rank(self, query: str, query_vector: np.ndarray | None, mode: str, candidates: int,
              filters: Filters) -> list[tuple[ChunkOwner, float]]:
        """Documents (by their best chunk) and their scores, best first."""
        lists = []
        if mode in ("dense", "hybrid"):
            scores, ids = self.index.vectors.search(query_vector, candidates)
            live = ids[0] >= 0
            lists.append((ids[0][live], scores[0][live]))
        if mode in ("lexical", "hybrid"):
            ids, scores = self.index.lexical.search(query, candidates)
            lists.append((ids, scores))
        owners = self.index.store.chunk_owners(np.concatenate([ids for ids, _ in lists]), with_metadata=bool(filters.metadata))
        rankings = [_best_per_document(ids, scores, owners, filters) for ids, scores in lists]
        if mode != "hybrid":
            return rankings[0]
        return _fuse(rankings)

    def document(self, external_id: str, collection: str | None = None) -> StoredDocument | None:
        """The document with this id (in `collection`, if given); None if there is none."""
        found = self.index.store.documents_with_id(external_id, collection)
        if len(found) > 1:
            raise AmbiguousDocument(f"id {external_id!r} exists in several collections; name one")
        return found[0] if found else None

    def similar(self, document: StoredDocument, k: int = 5) -> list[Hit]:
        """Documents nearest to this one: its chunks' mean vector, searched like a query."""
        self.refresh()
        vectors = self.index.store.document_vectors(document.key)
        if not len(vectors):
            return []
        centroid = vectors.mean(axis=0, keepdims=True)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        ranked = self._rank("", centroid, "dense", MIN_CANDIDATES + 4 * len(vectors), Filters())
        return self._hits([(c, s) for c, s in ranked if c.document != document.key][:k], set())

    def collections(self) -> list[str]:
        return self.index.store.collection_names()


def _best_per_document(ids: np.ndarray, scores: np.ndarray, candidates: dict[int, ChunkOwner],
                       filters: Filters) -> list[tuple[ChunkOwner, float]]:
    """Chunks (best first) -> documents ranked by their first, hence best, chunk."""
    seen: set[int] = set()
    ranked = []
    for chunk_id, score in zip(ids.tolist(), scores.tolist()):
        candidate = candidates.get(chunk_id)  # None: deleted since the index was saved
        if candidate is None or candidate.document in seen:
            continue
        seen.add(candidate.document)
        if filters.accept(candidate.collection, candidate.metadata or {}):
            ranked.append((candidate, score))
    return ranked


def _fuse(rankings: Sequence[list[tuple[ChunkOwner, float]]]) -> list[tuple[ChunkOwner, float]]:
    """Reciprocal-rank fusion: each list adds 1/(RRF_K + rank) to a document's score. The passage
    shown is the one from the first list (dense) that has the document."""
    scores: dict[int, float] = {}
    best: dict[int, ChunkOwner] = {}
    for ranking in rankings:
        for rank, (candidate, _) in enumerate(ranking, start=1):
            scores[candidate.document] = scores.get(candidate.document, 0.0) + 1.0 / (RRF_K + rank)
            best.setdefault(candidate.document, candidate)
    order = sorted(scores, key=lambda doc: -scores[doc])
    return [(best[doc], scores[doc]) for doc in order]


def _hit(passage: Passage, score: float, query_terms: set[str]) -> Hit:
    return Hit(passage.document, passage.external_id, passage.collection, passage.title,
               make_snippet(passage.text, query_terms), score, passage.metadata, passage.span)


def make_snippet(text: str, query_terms: set[str], width: int = SNIPPET_CHARS) -> Snippet:
    """The `width` characters of `text` that hold the most query terms, cut at word boundaries, with
    those terms' spans; the start of the text where no term occurs."""
    matches = matching_spans(text, query_terms)
    start = 0
    if matches and len(text) > width:
        starts = np.array([s for s, _ in matches])
        counts = [np.count_nonzero((starts >= s - width // 4) & (starts < s - width // 4 + width)) for s in starts]
        start = max(0, int(starts[int(np.argmax(counts))]) - width // 4)
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start, end)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    shift = len(prefix) - start
    highlights = [(s + shift, e + shift) for s, e in matches if s >= start and e <= end]
    return Snippet(prefix + text[start:end] + suffix, highlights)

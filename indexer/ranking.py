"""Rankings, and the step that turns a ranking of chunks into a ranking of documents.

Both indexes rank chunks; a search returns documents. A document ranks by its best chunk, which also
stays its id in the ranking, so the passage that earned the rank is the one shown. That step needs
the store (which document and collection each chunk belongs to, and that document's metadata for
the filters), so it lives in a `DocumentScope`, made once per search: it remembers what the store
said about each chunk, so the rounds of a widening search and the lists of a hybrid one ask only
about chunks not seen yet, in one `Store.chunk_owners` call at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .store import Store
from .store_reads import ChunkOwner


@dataclass(frozen=True)
class Ranking:
    """Ids, best first, and their scores (higher is better; what a score means depends on who ranked).

    The ids are chunk ids, except inside a fusion, which ranks document keys. Scores are float64:
    FAISS and BM25 score in float32, which converts exactly, and a fusion's sums keep the precision
    that decides their order (near-equal sums of reciprocal ranks must not tie by rounding)."""

    ids: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", np.asarray(self.ids, dtype=np.int64))
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float64))
        if self.ids.ndim != 1 or self.ids.shape != self.scores.shape:
            raise ValueError(f"a ranking needs one score per id: ids of shape {self.ids.shape}, scores of shape {self.scores.shape}")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, positions: slice | Sequence[int] | np.ndarray) -> Ranking:
        """The entries at `positions` (a slice, such as a page, or a list of positions), in that order."""
        if not isinstance(positions, slice):
            positions = np.asarray(positions, dtype=np.int64)
        return Ranking(self.ids[positions], self.scores[positions])


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


class DocumentScope:
    """One search's documents: which document each chunk belongs to, and which documents the
    search's filters let through. Not shared between searches (or threads): its memory of the
    store is only as fresh as the search."""

    def __init__(self, store: Store, filters: Filters) -> None:
        self.store = store
        self.filters = filters
        self._owners: dict[int, ChunkOwner] = {}
        self._asked: set[int] = set()  # chunks the store was asked about, found or not

    def fetch(self, chunk_ids: np.ndarray) -> None:
        """Ask the store, in one call, about the chunks among `chunk_ids` not asked about yet. A caller
        about to group several lists (a hybrid search) passes all of their chunks here first."""
        new = [chunk for chunk in dict.fromkeys(np.asarray(chunk_ids).tolist()) if chunk not in self._asked]
        if not new:
            return
        # Metadata only when a filter reads it: decoding it for every candidate costs more than the search.
        self._owners.update(self.store.chunk_owners(new, with_metadata=bool(self.filters.metadata)))
        self._asked.update(new)

    def best_per_document(self, chunks: Ranking) -> Ranking:
        """Chunks (best first) -> the documents the filters accept, each ranked by its first, hence
        best, chunk, which stays its id with that chunk's score."""
        self.fetch(chunks.ids)
        seen: set[int] = set()
        kept = []
        for position, chunk in enumerate(chunks.ids.tolist()):
            owner = self._owners.get(chunk)  # None: deleted since the index was saved
            if owner is None or owner.document in seen:
                continue
            seen.add(owner.document)
            if self.filters.accept(owner.collection, owner.metadata or {}):
                kept.append(position)
        return chunks[kept]

    def documents(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The document key of each of `chunk_ids`, which must have come out of `best_per_document`."""
        return np.array([self._owners[chunk].document for chunk in np.asarray(chunk_ids).tolist()], dtype=np.int64)

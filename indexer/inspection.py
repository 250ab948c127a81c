"""What an operator and a health probe ask of an instance: `check` (do the store and the saved files
agree?), `stats`, and `serving_problems` (is what a serving process holds in memory fit to answer?).

`check` reads the saved files afresh (verified, memory-mapped, whatever the process holds in memory),
so `manage.py check` judges what the next process would load; `serving_problems` judges what this one
serves, without reading any file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .instance import same_weights
from .manifest import COMPONENTS

if TYPE_CHECKING:
    from .search_index import SearchIndex


@dataclass
class CheckReport:
    """What `check` found; `ok` is what `manage.py check`'s exit status says."""

    documents: int
    chunks: int
    vectors: int
    missing: int  # chunks without a vector
    orphans: int  # vectors without a chunk
    empty_documents: int  # documents without any chunk
    version_matches: bool
    lexical_matches: bool  # the BM25 index holds exactly the store's chunks
    document_lexical_matches: bool = True  # the whole-document BM25 index holds exactly the store's documents
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(index: SearchIndex) -> CheckReport:
    """Compare the store with the saved files (verified again, whatever is in memory)."""
    store = index.store
    in_store = store.chunk_ids()
    found = index.read_saved(mmap=True)
    manifest, saved = found.manifest, found.components
    in_index = saved["vectors"].ids() if "vectors" in saved else np.empty(0, np.int64)
    bm25_ids = {c: np.sort(saved[c].ids) if c in saved else np.empty(0, np.int64) for c in ("lexical", "document_lexical")}
    in_documents = store.chunk_ids(documents=True)
    empty = store.count_empty_documents()
    file_version, store_version = (manifest.version if manifest else 0), index.version
    report = CheckReport(
        documents=sum(store.documents_per_collection().values()), chunks=len(in_store), vectors=len(in_index),
        missing=len(np.setdiff1d(in_store, in_index)), orphans=len(np.setdiff1d(in_index, in_store)),
        empty_documents=empty, version_matches=file_version == store_version,
        lexical_matches=np.array_equal(bm25_ids["lexical"], np.sort(in_store)),
        document_lexical_matches=np.array_equal(bm25_ids["document_lexical"], np.sort(in_documents)), problems=list(found.problems),
    )
    readable = {component: not found.problems or component in saved for component in COMPONENTS}
    if report.missing and readable["vectors"]:
        report.problems.append(f"{report.missing} chunks have no vector in the saved index")
    if report.orphans:
        report.problems.append(f"{report.orphans} vectors in the saved index have no chunk")
    if empty:
        report.problems.append(f"{empty} documents have no chunk")
    if not report.lexical_matches and readable["lexical"]:
        report.problems.append(f"the BM25 index holds {len(bm25_ids['lexical'])} chunks, the store {len(in_store)}")
    if not report.document_lexical_matches and readable["document_lexical"]:
        report.problems.append(f"the whole-document BM25 index holds {len(bm25_ids['document_lexical'])} documents, the store {len(in_documents)}")
    made_by = saved["vectors"].model if "vectors" in saved else None
    if made_by is not None and not same_weights(made_by, index.model):
        report.problems.append(f"the saved vectors were made by {made_by}, the store's by {index.model} "
                               "(an `adapt` stopped at its switch: `manage.py check --repair` or `manage.py adapt` finishes it)")
    if not report.version_matches and manifest:
        report.problems.append(f"index file version {file_version} differs from the store's {store_version}")
    return report


def stats(index: SearchIndex) -> dict[str, object]:
    """What `manage.py stats` prints: the store's counts and the vector index in memory."""
    per_collection = index.store.documents_per_collection()
    return {"database": index.store.url, "model": str(index.model), "dim": index.vectors.dim, "collections": per_collection,
            "documents": sum(per_collection.values()), "chunks": index.store.count_chunks(), "vectors": len(index.vectors),
            "index_type": index.vectors.index_type, "index_version": index.version, "index_bytes": index.saved.index_bytes()}


def serving_problems(index: SearchIndex) -> list[str]:
    """The saved version's `problems`, and an index empty over a store that holds chunks: what makes
    a serving process unhealthy."""
    if index.problems or len(index.vectors) or not index.store.has_chunks():
        return list(index.problems)
    return ["the store holds chunks but the index none (run `manage.py check --repair`)"]

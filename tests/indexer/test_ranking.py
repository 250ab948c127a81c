"""Rankings, and a search's documents: chunks grouped by document, filtered, the store asked once a chunk."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from indexer.ranking import DocumentScope, Filters, Ranking
from indexer.search_index import SearchIndex
from indexer.store import Chunk, Collection, Document


def test_a_ranking_holds_int64_ids_and_float64_scores_and_slices_as_one():
    ranking = Ranking([3, 1, 2], np.array([0.5, 0.25, 0.125], np.float32))
    assert ranking.ids.dtype == np.int64 and ranking.scores.dtype == np.float64 and len(ranking) == 3
    assert ranking[1:].ids.tolist() == [1, 2] and ranking[1:].scores.tolist() == [0.25, 0.125]
    assert ranking[[2, 0]].ids.tolist() == [2, 3] and len(ranking[[]]) == 0
    with pytest.raises(ValueError, match="one score per id"):
        Ranking([1, 2], [0.5])


def test_filters_compare_metadata_as_text():
    assert Filters(metadata={"year": ("2014",)}).accept("any", {"year": 2014})
    assert Filters(metadata={"open": ("true",)}).accept("any", {"open": True})
    assert not Filters(collection="notes").accept("library", {})
    assert not Filters(metadata={"year": ("2014",)}).accept("any", {})


@pytest.fixture
def store(instance, database_url):
    index = SearchIndex.open(instance, database_url=database_url)
    yield index.store
    index.close()


def chunks_by_document(store) -> list[tuple[int, int, str, str]]:
    """(chunk, document key, document id, collection) of every chunk, in id order."""
    with store.session() as session:
        return session.execute(select(Chunk.id, Document.id, Document.external_id, Collection.name)
                               .join(Document, Chunk.document_id == Document.id)
                               .join(Collection, Document.collection_id == Collection.id).order_by(Chunk.id)).all()


def test_each_document_ranks_once_by_its_first_chunk_and_deleted_chunks_drop_out(store):
    rows = chunks_by_document(store)
    gone = max(row[0] for row in rows) + 1000  # a chunk deleted since the index was saved
    chunks = Ranking([gone] + [row[0] for row in rows], np.arange(len(rows) + 1, 0, -1))
    score = dict(zip(chunks.ids.tolist(), chunks.scores.tolist()))
    scope = DocumentScope(store, Filters())
    documents = scope.best_per_document(chunks)
    first: dict[int, int] = {}  # document -> its first chunk
    for chunk, document, _, _ in rows:
        first.setdefault(document, chunk)
    assert len(first) < len(rows)  # some documents have several chunks
    assert documents.ids.tolist() == list(first.values())
    assert documents.scores.tolist() == [score[chunk] for chunk in first.values()]
    assert scope.documents(documents.ids).tolist() == list(first)


def test_filters_drop_documents_not_ranks(store):
    rows = chunks_by_document(store)
    chunks = Ranking([row[0] for row in rows], np.zeros(len(rows)))
    books = DocumentScope(store, Filters(metadata={"year": ("2014", "2020")})).best_per_document(chunks)
    assert sorted(external for chunk, _, external, _ in rows if chunk in books.ids.tolist()) == ["cats", "long"]
    notes = DocumentScope(store, Filters(collection="notes")).best_per_document(chunks)
    assert {collection for chunk, _, _, collection in rows if chunk in notes.ids.tolist()} == {"notes"}


def test_the_store_is_asked_once_about_each_chunk(store, monkeypatch):
    calls = []
    owners = store.chunk_owners
    monkeypatch.setattr(store, "chunk_owners", lambda ids, with_metadata=False: calls.append(sorted(ids)) or owners(ids, with_metadata))
    ids = [row[0] for row in chunks_by_document(store)]
    scope = DocumentScope(store, Filters())
    scope.fetch(np.array(ids[:3] + ids[:2]))
    scope.best_per_document(Ranking(ids[:5], np.zeros(5)))
    scope.best_per_document(Ranking(ids[:2], np.zeros(2)))
    assert calls == [ids[:3], ids[3:5]]

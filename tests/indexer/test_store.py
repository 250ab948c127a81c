"""The store repository on both databases: schema versions, and the writes and reads every other
module goes through."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.chunking import Chunk
from indexer.schema import SCHEMA_VERSION, Setting
from indexer.schema import StoreError, migrate
from indexer.store import DocumentVersion, Store, open_store

DIM = 4


@pytest.fixture
def store(database_url):
    store = open_store(database_url)
    yield store
    store.engine.dispose()


def version(external_id: str, text: str, key: int | None = None, title: str = "") -> DocumentVersion:
    """A document of one passage per word."""
    words, start, passages = text.split(), 0, []
    for ordinal, word in enumerate(words):
        start = text.index(word, start)
        passages.append(Chunk(ordinal, word, start, start + len(word)))
        start += len(word)
    return DocumentVersion(key, external_id, title, text, {"id": external_id}, f"hash of {text}", passages)


def vectors(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)


def write(store: Store, collection: int, *documents: DocumentVersion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    written = vectors(sum(len(d.passages) for d in documents), seed=len(documents))
    return (*store.write_documents(collection, documents, written), written)


def test_schema_is_created_once_and_recorded(store):
    assert store.get("schema_version") == str(SCHEMA_VERSION)
    assert migrate(store.engine) == SCHEMA_VERSION  # running again is a no-op
    store.put({"model": "m", "dim": "32"})
    store.put({"dim": "64"})
    assert (store.get("model"), store.get("dim")) == ("m", "64")


def test_a_newer_schema_is_refused(store, database_url):
    with store.session.begin() as session:
        session.merge(Setting(key="schema_version", value=str(SCHEMA_VERSION + 1)))
    with pytest.raises(StoreError, match="newer than this code"):
        open_store(database_url)


def test_collections_are_created_on_demand(store):
    assert store.collection_id("notes", create=False) is None
    key = store.collection_id("notes")
    assert store.collection_id("notes") == store.collection_id("notes", create=False) == key
    assert store.collection_names() == ["notes"] and store.documents_per_collection() == {"notes": 0}


def test_written_documents_read_back_with_their_vectors(store):
    notes = store.collection_id("notes")
    assert not store.has_chunks()
    replaced, written, vectors_written = write(store, notes, version("a", "red pen", title="Pens"), version("b", "cat"))
    assert len(replaced) == 0 and len(written) == 3 and store.has_chunks()
    assert np.array_equal(np.sort(store.chunk_ids()), np.sort(written))
    hashes = store.content_hashes(notes, ["a", "b", "missing"])
    assert {external_id: digest for external_id, (_, digest) in hashes.items()} == {"a": "hash of red pen", "b": "hash of cat"}
    ids, stored = zip(*store.stored_vectors(written[::-1]))
    order = np.argsort(ids[0])
    np.testing.assert_array_equal(stored[0][order], vectors_written[np.argsort(written)])  # bit for bit
    assert list(store.titled_texts()) == [(written[0], "Pens", "red"), (written[1], "Pens", "pen"), (written[2], "", "cat")]
    a, b = hashes["a"][0], hashes["b"][0]
    assert list(store.titled_texts(documents=True)) == [(a, "Pens", "red pen"), (b, "", "cat")]
    assert np.array_equal(np.sort(store.chunk_ids(documents=True)), np.sort([a, b]))
    assert store.document_chunks([b, a, 12345]) == [(a, 0, written[0]), (a, 1, written[1]), (b, 0, written[2])]
    passage = store.passages([written[1]])[written[1]]
    assert (passage.external_id, passage.text, passage.span, passage.collection) == ("a", "pen", (4, 7), "notes")
    ids, vectors = store.document_vectors(hashes["a"][0])
    assert ids.tolist() == sorted(written[:2].tolist())
    np.testing.assert_array_equal(vectors, vectors_written[:2][np.argsort(written[:2])])
    assert (store.count_chunks(), store.count_empty_documents(), store.documents_per_collection()) == (3, 0, {"notes": 2})


def test_a_rewritten_document_keeps_its_key_and_replaces_its_chunks(store):
    notes = store.collection_id("notes")
    _, first, _ = write(store, notes, version("a", "red pen"), version("b", "cat"))
    key = store.content_hashes(notes, ["a"])["a"][0]
    replaced, written, _ = write(store, notes, version("a", "blue ink pot", key=key), version("c", "dog"))
    assert np.array_equal(np.sort(replaced), np.sort(first[:2])) and len(written) == 4
    assert store.content_hashes(notes, ["a"])["a"] == (key, "hash of blue ink pot")
    assert [stored.text for stored in store.documents_with_id("a")] == ["blue ink pot"]
    assert np.array_equal(np.sort(store.chunk_ids()), np.sort(np.concatenate([first[2:], written])))
    with pytest.raises(ValueError, match="3 vectors for 2 passages"):
        store.write_documents(notes, [version("d", "two words")], vectors(3))


def test_documents_are_deleted_with_their_chunks_per_collection(store, monkeypatch):
    monkeypatch.setattr("indexer.store.DELETE_BATCH", 2)
    notes, other = store.collection_id("notes"), store.collection_id("other")
    _, written, _ = write(store, notes, version("a", "red pen"), version("b", "cat"), version("c", "dog"))
    write(store, other, version("a", "kept"))
    deleted, chunks = store.delete_documents(notes, ["a", "missing", "c"])
    assert deleted == 2 and np.array_equal(np.sort(chunks), np.sort(written[[0, 1, 3]]))
    assert store.documents_per_collection() == {"notes": 1, "other": 1} and store.count_chunks() == 2
    deleted, chunks = store.delete_documents(notes, ["a"])  # gone already
    assert deleted == 0 and chunks.size == 0


def test_a_document_without_chunks_is_counted(store):
    write(store, store.collection_id("notes"), version("empty", ""), version("b", "cat"))
    assert store.count_empty_documents() == 1 and store.documents_per_collection() == {"notes": 2}

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from indexer.schema import SCHEMA_VERSION, Chunk, Collection, Document, Setting
from indexer.store import StoreError, migrate, open_store


def test_schema_is_created_once_and_recorded(database_url):
    store = open_store(database_url)
    assert store.get("schema_version") == str(SCHEMA_VERSION)
    assert migrate(store.engine) == SCHEMA_VERSION  # running again is a no-op
    store.put({"model": "m", "dim": "32"})
    store.put({"dim": "64"})
    assert (store.get("model"), store.get("dim")) == ("m", "64")


def test_a_newer_schema_is_refused(database_url):
    store = open_store(database_url)
    with store.session.begin() as session:
        session.merge(Setting(key="schema_version", value=str(SCHEMA_VERSION + 1)))
    with pytest.raises(StoreError, match="newer than this code"):
        open_store(database_url)


def test_external_ids_are_unique_per_collection_and_chunks_cascade(database_url):
    store = open_store(database_url)
    with store.session.begin() as session:
        a, b = Collection(name="a"), Collection(name="b")
        session.add_all([a, b])
        session.flush()
        doc = Document(collection_id=a.id, external_id="x", title="", text="t", meta={"k": [1, 2]}, content_hash="h")
        session.add_all([doc, Document(collection_id=b.id, external_id="x", text="t", content_hash="h")])
        session.flush()
        session.add(Chunk(document_id=doc.id, ordinal=0, text="t", start_char=0, end_char=1, vector=b"\0" * 8))
    with pytest.raises(IntegrityError):
        with store.session.begin() as session:
            session.add(Document(collection_id=a.id, external_id="x", text="again", content_hash="h"))
    with store.session.begin() as session:
        assert session.scalar(select(Document.meta).where(Document.id == doc.id)) == {"k": [1, 2]}
        session.delete(session.get(Document, doc.id))
    with store.session() as session:
        assert session.scalars(select(Chunk)).all() == []

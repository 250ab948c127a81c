"""The tables' constraints and the migration steps, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.exc import IntegrityError

from indexer import jobs
from indexer.schema import MIGRATIONS, SCHEMA_VERSION, Chunk, Collection, Document, Setting
from indexer.store import open_store


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


def test_a_store_from_before_the_queue_gains_it(database_url):
    engine = create_engine(database_url)
    with engine.begin() as connection:  # a database as the first schema version left it
        MIGRATIONS[0](connection)
        connection.execute(Setting.__table__.insert().values(key="schema_version", value="1"))
    assert not inspect(engine).has_table("write_jobs")
    engine.dispose()
    store = open_store(database_url)
    assert store.get("schema_version") == str(SCHEMA_VERSION) == "4"
    assert inspect(store.engine).has_table("quality_runs")
    job = jobs.enqueue_delete(store, "notes", "x")
    assert jobs.has_pending(store) and jobs.job_status(store, job.id).kind == "delete"
    store.engine.dispose()

"""The database's tables and the migrations that create them: what `Store` (indexer/store.py) reads
and writes, the write queue's own table (indexer/jobs.py) and the quality runs' (indexer/quality_store.py).

The schema is versioned: `MIGRATIONS` is the ordered list of steps, each run once inside a
transaction by `migrate`, and the store records how many have run. A change of schema is a new
step at the end, so that a database built by earlier code is brought up to date when it is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Connection, DateTime, Engine, Float, ForeignKey, Integer, LargeBinary, String, Text,
                        UniqueConstraint, inspect, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere ids are 64-bit, as FAISS ids are.
Id = BigInteger().with_variant(Integer, "sqlite")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Collection(Base):
    __tablename__ = "collections"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("collection_id", "external_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class Chunk(Base):
    __tablename__ = "chunks"
    id: Mapped[int] = mapped_column(Id, primary_key=True)  # also the vector's id in FAISS
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian, the encoder's dim


class WriteJob(Base):
    """A write accepted by the API and not yet applied, or its outcome: the durable queue that the
    background writer drains (indexer/jobs.py). `payload` is the job's input as JSON, dropped once
    the job has finished."""

    __tablename__ = "write_jobs"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "upsert" or "delete"
    collection: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued, running, done, failed
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    documents: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Setting(Base):
    """Small facts about the store: schema version, the model and dimension it was built with, the
    version of the vector index that matches it."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LabelledSet(Base):
    """A labelled query set of the operator's: judged queries (id -> text) and their graded qrels
    (query id -> {document id: grade}), for one collection."""

    __tablename__ = "quality_sets"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    collection: Mapped[str] = mapped_column(String(200))
    queries: Mapped[dict] = mapped_column(JSON)
    qrels: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class QualityRun(Base):
    """One pass of a set through the search service in one mode, its top `rerank` documents rescored by
    the reranker (0: not reranked): queued, running (`done` of `total` queries so far, `heartbeat` at
    the last one), then done with its means (x100) and latency percentiles (ms) in `metrics`, or
    failed with `error`."""

    __tablename__ = "quality_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("quality_sets.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    rerank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), index=True)
    index_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model: Mapped[str | None] = mapped_column(String(300), nullable=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class QueryResult(Base):
    """One query of a run: its metrics (x100), its latency inside the service, and its top results."""

    __tablename__ = "quality_results"
    __table_args__ = (UniqueConstraint("run_id", "query_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("quality_runs.id", ondelete="CASCADE"), index=True)
    query_id: Mapped[str] = mapped_column(String(1024))
    ndcg: Mapped[float] = mapped_column(Float)
    recall: Mapped[float] = mapped_column(Float)
    mrr: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    top_ids: Mapped[list] = mapped_column(JSON)


# Schema migrations, in order; the store records how many have run. Alembic would be one more tool
# for what is, so far, an ordered list of functions run once each inside a transaction.
def _create_initial_tables(connection: Connection) -> None:
    tables = [Collection.__table__, Document.__table__, Chunk.__table__, Setting.__table__]
    Base.metadata.create_all(connection, tables=tables)


def _create_write_jobs(connection: Connection) -> None:
    WriteJob.__table__.create(connection)


def _create_quality_tables(connection: Connection) -> None:
    Base.metadata.create_all(connection, tables=[LabelledSet.__table__, QualityRun.__table__, QueryResult.__table__])


def _add_quality_rerank(connection: Connection) -> None:
    """Runs made before reranking existed were not reranked: 0. A database made by this code has the
    column already (`_create_quality_tables` creates the table as it is now)."""
    if "rerank" not in {column["name"] for column in inspect(connection).get_columns("quality_runs")}:
        connection.execute(text("ALTER TABLE quality_runs ADD COLUMN rerank INTEGER NOT NULL DEFAULT 0"))


MIGRATIONS: list[Callable[[Connection], None]] = [_create_initial_tables, _create_write_jobs, _create_quality_tables,
                                                  _add_quality_rerank]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The database cannot be used as it is (newer schema, wrong model); the message says why."""


def migrate(engine: Engine) -> int:
    """Run the migrations this database has not had; returns the schema version now in force."""
    with engine.begin() as connection:
        current = _schema_version(connection)
        if current > SCHEMA_VERSION:
            raise StoreError(f"{engine.url.render_as_string(hide_password=True)}: schema version {current} is newer than this code ({SCHEMA_VERSION})")
        for number in range(current, SCHEMA_VERSION):
            MIGRATIONS[number](connection)
        if current != SCHEMA_VERSION:
            Setting.__table__.create(connection, checkfirst=True)
            connection.execute(Setting.__table__.delete().where(Setting.key == "schema_version"))
            connection.execute(Setting.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    return SCHEMA_VERSION


def _schema_version(connection: Connection) -> int:
    if not inspect(connection).has_table("settings"):
        return 0
    value = connection.execute(text("SELECT value FROM settings WHERE key = 'schema_version'")).scalar()
    return int(value or 0)

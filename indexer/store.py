"""The metadata store: collections, documents and their chunks (with their vectors), in SQL.

The database is the truth. Each chunk row keeps its vector, so the FAISS index can always be rebuilt
from the store (another index type, a crash between a commit and an index save) without encoding
anything again. SQLite by default (WAL mode: readers never block the writer), PostgreSQL by URL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from sqlalchemy import (
    JSON, BigInteger, Connection, DateTime, Engine, ForeignKey, Integer, LargeBinary, String, Text,
    UniqueConstraint, create_engine, event, inspect, select, text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SQL_BATCH = 10_000  # ids bound in one statement: under SQLite's 32,766 and PostgreSQL's 65,535 parameters

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


# Schema migrations, in order; the store records how many have run. Alembic would be one more tool
# for what is, so far, an ordered list of functions run once each inside a transaction.
def _create_initial_tables(connection: Connection) -> None:
    tables = [Collection.__table__, Document.__table__, Chunk.__table__, Setting.__table__]
    Base.metadata.create_all(connection, tables=tables)


def _create_write_jobs(connection: Connection) -> None:
    WriteJob.__table__.create(connection)


MIGRATIONS: list[Callable[[Connection], None]] = [_create_initial_tables, _create_write_jobs]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The database cannot be used as it is (newer schema, wrong model); the message says why."""


@dataclass(frozen=True)
class ChunkOwner:
    """A chunk and what ranking and filtering need of its document (metadata only when asked for:
    decoding it for every candidate would cost more than the search)."""

    chunk: int
    document: int
    collection: str
    metadata: dict | None


@dataclass
class Passage:
    """A chunk with its text and the document it belongs to: what a search result shows."""

    chunk: int
    document: int
    text: str
    span: tuple[int, int]  # the chunk's character span in the document's text
    external_id: str
    title: str
    metadata: dict
    collection: str


@dataclass
class StoredDocument:
    key: int  # the store's primary key
    id: str  # the document's own id
    collection: str
    title: str
    text: str
    metadata: dict

    def as_json(self) -> dict:
        return {"id": self.id, "collection": self.collection, "title": self.title, "text": self.text, "metadata": self.metadata}


@dataclass
class Store:
    """An engine and its session factory for one database URL: the repository every other module
    reads and writes the database through."""

    engine: Engine
    session: sessionmaker

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def get(self, key: str) -> str | None:
        with self.session() as session:
            return session.scalar(select(Setting.value).where(Setting.key == key))

    def put(self, values: dict[str, str]) -> None:
        with self.session.begin() as session:
            for key, value in values.items():
                session.merge(Setting(key=key, value=str(value)))


    def chunk_owners(self, chunk_ids: Sequence[int], with_metadata: bool = False) -> dict[int, ChunkOwner]:
        """The document and collection of each chunk that still exists (a deleted one is absent)."""
        columns = [Chunk.id, Chunk.document_id, Collection.name] + ([Document.meta] if with_metadata else [])
        return {row[0]: ChunkOwner(row[0], row[1], row[2], (row[3] or {}) if with_metadata else None)
                for row in self._chunk_rows(columns, chunk_ids)}

    def passages(self, chunk_ids: Sequence[int]) -> dict[int, Passage]:
        columns = [Chunk.id, Chunk.document_id, Chunk.text, Chunk.start_char, Chunk.end_char,
                   Document.external_id, Document.title, Document.meta, Collection.name]
        return {row[0]: Passage(row[0], row[1], row[2], (row[3], row[4]), row[5], row[6], row[7] or {}, row[8])
                for row in self._chunk_rows(columns, chunk_ids)}

    def _chunk_rows(self, columns: list, chunk_ids: Sequence[int]) -> list:
        """`columns` of the given chunks joined to their document and collection, `SQL_BATCH` ids a statement."""
        wanted = sorted({int(i) for i in chunk_ids})
        rows = []
        with self.session() as session:
            for start in range(0, len(wanted), SQL_BATCH):
                rows += session.execute(
                    select(*columns).join(Document, Chunk.document_id == Document.id).join(Collection, Document.collection_id == Collection.id)
                    .where(Chunk.id.in_(wanted[start:start + SQL_BATCH]))
                ).all()
        return rows

    def documents_with_id(self, external_id: str, collection: str | None = None, limit: int = 2) -> list[StoredDocument]:
        """Documents with this id (in `collection`, if given): at most one per collection."""
        statement = (select(Document.id, Document.external_id, Collection.name, Document.title, Document.text, Document.meta)
                     .join(Collection, Document.collection_id == Collection.id).where(Document.external_id == external_id))
        if collection is not None:
            statement = statement.where(Collection.name == collection)
        with self.session() as session:
            rows = session.execute(statement.limit(limit)).all()
        return [StoredDocument(*row[:5], row[5] or {}) for row in rows]

    def document_vectors(self, document_key: int) -> np.ndarray:
        """The vectors of a document's chunks, (chunks, dim); (0, 0) for a document without any."""
        with self.session() as session:
            blobs = session.scalars(select(Chunk.vector).where(Chunk.document_id == document_key)).all()
        return np.vstack([np.frombuffer(b, dtype="<f4") for b in blobs]) if blobs else np.empty((0, 0), np.float32)

    def collection_names(self) -> list[str]:
        with self.session() as session:
            return list(session.scalars(select(Collection.name).order_by(Collection.name)))


def open_store(url: str) -> Store:
    """Connect, bring the schema up to date, and return the store."""
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    migrate(engine)
    return Store(engine, sessionmaker(engine, expire_on_commit=False))


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint; a crash loses no commit in WAL mode
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


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

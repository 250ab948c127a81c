"""The metadata store: collections, documents and their chunks (with their vectors), in SQL.

The database is the truth. Each chunk row keeps its vector, so the FAISS index can always be rebuilt
from the store (another index type, a crash between a commit and an index save) without encoding
anything again. SQLite by default (WAL mode: readers never block the writer), PostgreSQL by URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import (
    JSON, BigInteger, Connection, DateTime, Engine, ForeignKey, Integer, LargeBinary, String, Text,
    UniqueConstraint, create_engine, event, inspect, select, text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

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


@dataclass
class Store:
    """An engine and its session factory for one database URL."""

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

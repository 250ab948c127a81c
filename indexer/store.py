"""The metadata store: collections, documents and their chunks (with their vectors), in SQL.

The database is the truth. Each chunk row keeps its vector, so the FAISS index can always be rebuilt
from the store (another index type, a crash between a commit and an index save) without encoding anything
again. SQLite by default (WAL mode: readers never block the writer), PostgreSQL by URL.
`Store` is the repository (its search-time reads in indexer/store_reads.py): apart from the tables and
migrations (indexer/schema.py), the write queue's own SQL (indexer/jobs.py) and the quality runs'
(indexer/quality_store.py), no other module speaks SQL, so the queries that must agree (what a write
commits, what `check` counts, what a search reads) sit together."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from . import chunking
from .schema import Chunk, Collection, Document, Setting, migrate
from .store_reads import SQL_BATCH, ChunkReads

READ_BATCH = 50_000  # rows streamed per fetch, and stored vectors returned per batch
DELETE_BATCH = 1000  # documents deleted per transaction


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


@dataclass(frozen=True)
class DocumentVersion:
    """A document as an upsert writes it: its passages, each with a vector, replace whatever it held."""

    key: int | None  # the stored document it replaces; None for a new one
    external_id: str
    title: str
    text: str
    metadata: dict
    content_hash: str
    passages: Sequence[chunking.Chunk]


@dataclass
class Store(ChunkReads):
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

    def collection_id(self, name: str, create: bool = True) -> int | None:
        """The collection's key, created if new (unless `create` is false: None then)."""
        with self.session.begin() as session:
            found = session.scalar(select(Collection.id).where(Collection.name == name))
            if found is None and create:
                session.add(collection := Collection(name=name))
                session.flush()
                found = collection.id
            return found

    def content_hashes(self, collection_id: int, external_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """(key, content hash) of each of these documents that the collection holds: what an upsert
        compares, to skip the unchanged ones before encoding anything."""
        with self.session() as session:
            rows = session.execute(select(Document.external_id, Document.id, Document.content_hash)
                                   .where(Document.collection_id == collection_id, Document.external_id.in_(list(external_ids))))
            return {external_id: (key, digest) for external_id, key, digest in rows}

    def write_documents(self, collection_id: int, documents: Sequence[DocumentVersion], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One transaction: replace the chunks of the documents stored before, insert the new
        documents, insert every passage with its vector (`vectors` in passage order). Returns (ids of
        the chunks replaced, ids of the chunks written, in `vectors` order), for the vector index."""
        passages = sum(len(document.passages) for document in documents)
        if passages != len(vectors):
            raise ValueError(f"{len(vectors)} vectors for {passages} passages")
        changed = [document for document in documents if document.key is not None]
        fresh = [document for document in documents if document.key is None]
        with self.session.begin() as session:
            old = self._chunks_of(session, [document.key for document in changed])
            if changed:
                session.execute(delete(Chunk).where(Chunk.document_id.in_([document.key for document in changed])))
                session.execute(update(Document), [{"id": d.key, "title": d.title, "text": d.text, "meta": d.metadata,
                                                    "content_hash": d.content_hash} for d in changed])
            inserted = iter(session.execute(
                insert(Document).returning(Document.id, sort_by_parameter_order=True),
                [{"collection_id": collection_id, "external_id": d.external_id, "title": d.title, "text": d.text,
                  "meta": d.metadata, "content_hash": d.content_hash} for d in fresh],
            ).scalars().all() if fresh else [])
            keys = [document.key if document.key is not None else next(inserted) for document in documents]
            blobs = iter(np.ascontiguousarray(vectors, dtype="<f4"))
            rows = [{"document_id": key, "ordinal": p.ordinal, "text": p.text, "start_char": p.start, "end_char": p.end,
                     "vector": next(blobs).tobytes()} for key, document in zip(keys, documents) for p in document.passages]
            new = session.execute(insert(Chunk).returning(Chunk.id, sort_by_parameter_order=True), rows).scalars().all() if rows else []
        return old, np.array(new, dtype=np.int64)

    def delete_documents(self, collection_id: int, external_ids: Sequence[str]) -> tuple[int, np.ndarray]:
        """Delete these documents of the collection with their chunks, `DELETE_BATCH` a transaction;
        returns (how many existed, the ids of their chunks)."""
        deleted, chunks = 0, []
        for start in range(0, len(external_ids), DELETE_BATCH):
            batch = list(external_ids[start:start + DELETE_BATCH])
            with self.session.begin() as session:
                keys = list(session.scalars(select(Document.id).where(Document.collection_id == collection_id, Document.external_id.in_(batch))))
                if keys:
                    chunks.append(self._chunks_of(session, keys))
                    session.execute(delete(Chunk).where(Chunk.document_id.in_(keys)))
                    session.execute(delete(Document).where(Document.id.in_(keys)))
                deleted += len(keys)
        return deleted, np.concatenate(chunks) if chunks else np.empty(0, np.int64)

    @staticmethod
    def _chunks_of(session: Session, document_keys: list[int]) -> np.ndarray:
        if not document_keys:
            return np.empty(0, np.int64)
        return np.fromiter(session.scalars(select(Chunk.id).where(Chunk.document_id.in_(document_keys))), dtype=np.int64)

    def chunk_ids(self, documents: bool = False) -> np.ndarray:
        """Every chunk's id (the vector index must hold exactly these), or every document's key."""
        with self.session() as session:
            return np.fromiter(session.scalars(select(Document.id if documents else Chunk.id).execution_options(yield_per=READ_BATCH)), np.int64)

    def has_chunks(self) -> bool:
        with self.session() as session:
            return session.scalar(select(Chunk.id).limit(1)) is not None

    def stored_vectors(self, ids: Sequence[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of the given chunks, `READ_BATCH` at a time: what rebuilds the vector index
        without encoding anything again."""
        for start in range(0, len(ids), READ_BATCH):
            wanted = [int(i) for i in ids[start:start + READ_BATCH]]
            with self.session() as session:
                rows = session.execute(select(Chunk.id, Chunk.vector).where(Chunk.id.in_(wanted))).all()
            if rows:
                yield (np.array([r[0] for r in rows], dtype=np.int64),
                       np.vstack([np.frombuffer(r[1], dtype="<f4") for r in rows]))

    def replace_vectors(self, ids: np.ndarray, vectors: np.ndarray, settings: dict[str, str]) -> None:
        """One transaction: these chunks' vectors and `settings` (the model that made them), so that the store
        never names one model beside another's vectors."""
        blobs = np.ascontiguousarray(vectors, dtype="<f4")
        with self.session.begin() as session:
            for start in range(0, len(ids), SQL_BATCH):
                session.execute(update(Chunk), [{"id": int(i), "vector": v.tobytes()}
                                                for i, v in zip(ids[start:start + SQL_BATCH], blobs[start:start + SQL_BATCH])])
            for key, value in settings.items():
                session.merge(Setting(key=key, value=value))

    def titled_texts(self, documents: bool = False) -> Iterator[tuple[int, str, str]]:
        """(id, document title, text) of every chunk, or of every document, in id order, streamed: what BM25 indexes."""
        statement = select(Document.id, Document.title, Document.text) if documents else select(Chunk.id, Document.title, Chunk.text).join(Document)
        with self.session() as session:
            yield from session.execute(statement.order_by(statement.selected_columns[0]).execution_options(yield_per=READ_BATCH))

    def count_empty_documents(self) -> int:
        """Documents without any chunk (every write gives a document one at least: `check` reports them)."""
        with self.session() as session:
            return session.scalar(select(func.count(Document.id)).where(
                ~select(Chunk.id).where(Chunk.document_id == Document.id).exists())) or 0

    def count_chunks(self) -> int:
        with self.session() as session:
            return session.scalar(select(func.count(Chunk.id))) or 0

    def documents_per_collection(self) -> dict[str, int]:
        """Every collection's document count, empty collections included."""
        with self.session() as session:
            return dict(session.execute(
                select(Collection.name, func.count(Document.id)).join(Document, Document.collection_id == Collection.id, isouter=True)
                .group_by(Collection.name)).all())

    def documents_with_id(self, external_id: str, collection: str | None = None, limit: int = 2) -> list[StoredDocument]:
        """Documents with this id (in `collection`, if given): at most one per collection."""
        statement = (select(Document.id, Document.external_id, Collection.name, Document.title, Document.text, Document.meta)
                     .join(Collection, Document.collection_id == Collection.id).where(Document.external_id == external_id))
        if collection is not None:
            statement = statement.where(Collection.name == collection)
        with self.session() as session:
            rows = session.execute(statement.limit(limit)).all()
        return [StoredDocument(*row[:5], row[5] or {}) for row in rows]

    def document_vectors(self, document_key: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids of a document's chunks, in order, and their vectors, (chunks, dim); (0, 0) for none."""
        with self.session() as session:
            rows = session.execute(select(Chunk.id, Chunk.vector).where(Chunk.document_id == document_key).order_by(Chunk.id)).all()
        return (np.array([row[0] for row in rows], dtype=np.int64),
                np.vstack([np.frombuffer(row[1], dtype="<f4") for row in rows]) if rows else np.empty((0, 0), np.float32))

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

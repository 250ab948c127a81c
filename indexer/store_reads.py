"""The reads a search makes from the store, several per query: chunks and documents by key. Part of `Store`
(indexer/store.py), kept apart because these few statements are the store's hot path. Each is built once
(`_read`: joined only as far as its columns need, the keys bound as one expanding list) and runs on a plain
connection rather than an ORM session: building a select per call cost about as much as running it
(docs/benchmarks.md, "Hybrid by default")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Engine, Select, bindparam, func, select
from sqlalchemy.sql import visitors

from encoder import passage_text

from .schema import Chunk, Collection, Document

SQL_BATCH = 10_000  # ids bound in one statement: under SQLite's 32,766 and PostgreSQL's 65,535 parameters


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


def _read(columns: list, key=Chunk.id, *conditions) -> Select:
    """The select of `columns` from the chunks whose `key` is in the bound list `ids` (and that meet
    `conditions`), joined to their document and collection only when a column or condition is theirs."""
    tables = _tables(*columns, key, *conditions)
    statement = select(*columns).select_from(Chunk)
    if tables & {Document.__tablename__, Collection.__tablename__}:
        statement = statement.join(Document, Chunk.document_id == Document.id)
    if Collection.__tablename__ in tables:
        statement = statement.join(Collection, Document.collection_id == Collection.id)
    return statement.where(key.in_(bindparam("ids", expanding=True)), *conditions)


def _tables(*parts: object) -> set[str]:
    """The names of the tables whose columns these columns or expressions read."""
    elements = (part.__clause_element__() if hasattr(part, "__clause_element__") else part for part in parts)
    return {node.table.name for element in elements for node in visitors.iterate(element) if isinstance(node, Column)}


FIRST = Chunk.ordinal == 0
OWNERS = _read([Chunk.id, Chunk.document_id, Collection.name])
OWNERS_WITH_METADATA = _read([Chunk.id, Chunk.document_id, Collection.name, Document.meta])
PASSAGES = _read([Chunk.id, Chunk.document_id, Chunk.text, Chunk.start_char, Chunk.end_char,
                  Document.external_id, Document.title, Document.meta, Collection.name])
DOCUMENT_CHUNKS = _read([Chunk.document_id, Chunk.ordinal, Chunk.id], Chunk.document_id)
FIRST_PASSAGES = _read([Chunk.document_id, Chunk.text], Chunk.document_id, FIRST)
# What BM25 indexed, by chunk or by document (its first chunk's row), cut to `chars` characters by the database.
INDEXED_CHUNKS = _read([Chunk.id, Document.title, func.substr(Chunk.text, 1, bindparam("chars"))])
INDEXED_DOCUMENTS = _read([Document.id, Document.title, func.substr(Document.text, 1, bindparam("chars"))], Document.id, FIRST)
WHOLE = 2**31 - 1  # `chars` when a text is wanted whole


class ChunkReads:
    """The search-time reads of `Store`, over its `engine`."""

    engine: Engine

    def chunk_owners(self, chunk_ids: Sequence[int], with_metadata: bool = False) -> dict[int, ChunkOwner]:
        """The document and collection of each chunk that still exists (a deleted one is absent)."""
        return {row[0]: ChunkOwner(row[0], row[1], row[2], (row[3] or {}) if with_metadata else None)
                for row in self._rows(OWNERS_WITH_METADATA if with_metadata else OWNERS, chunk_ids)}

    def passages(self, chunk_ids: Sequence[int]) -> dict[int, Passage]:
        return {row[0]: Passage(row[0], row[1], row[2], (row[3], row[4]), row[5], row[6], row[7] or {}, row[8])
                for row in self._rows(PASSAGES, chunk_ids)}

    def document_chunks(self, document_keys: Sequence[int]) -> list[tuple[int, int, int]]:
        """(document key, ordinal, chunk id) of each chunk of these documents, in that order."""
        return sorted(self._rows(DOCUMENT_CHUNKS, document_keys))

    def first_passages(self, document_keys: Sequence[int]) -> dict[int, str]:
        """Each document's first passage (ordinal 0), by document key: one indexed lookup per document,
        however many chunks it has."""
        return dict(self._rows(FIRST_PASSAGES, document_keys))

    def indexed_texts(self, keys: Sequence[int], documents: bool = False, max_chars: int | None = None) -> dict[int, str]:
        """What BM25 indexed (`titled_texts`) for these chunks, or these documents (one row each: their first
        chunk's), by key; each text cut to `max_chars` characters by the database, not read whole."""
        rows = self._rows(INDEXED_DOCUMENTS if documents else INDEXED_CHUNKS, keys, chars=WHOLE if max_chars is None else max_chars)
        return {key: passage_text(title, body) for key, title, body in rows}

    def _rows(self, statement: Select, ids: Sequence[int], **values: object) -> list:
        """The rows of one of the statements above for these keys, `SQL_BATCH` keys a statement."""
        wanted = sorted({int(i) for i in ids})
        rows = []
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), SQL_BATCH):
                rows += connection.execute(statement, {"ids": wanted[start:start + SQL_BATCH], **values}).all()
        return rows

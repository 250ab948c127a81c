"""The reads a search makes from the store, several per query: chunks and documents by key, joined only
as far as the columns asked for need. Part of `Store` (indexer/store.py), kept apart because these few
statements are the store's hot path: each runs on a plain connection rather than an ORM session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Engine, func, select
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


class ChunkReads:
    """The search-time reads of `Store`, over its `engine`."""

    engine: Engine

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

    def document_chunks(self, document_keys: Sequence[int]) -> list[tuple[int, int, int]]:
        """(document key, ordinal, chunk id) of each chunk of these documents, in that order."""
        return sorted(self._chunk_rows([Chunk.document_id, Chunk.ordinal, Chunk.id], document_keys, Chunk.document_id))

    def first_passages(self, document_keys: Sequence[int]) -> dict[int, str]:
        """Each document's first passage (ordinal 0), by document key: one indexed lookup per document,
        however many chunks it has."""
        return dict(self._chunk_rows([Chunk.document_id, Chunk.text], document_keys, Chunk.document_id, Chunk.ordinal == 0))

    def indexed_texts(self, keys: Sequence[int], documents: bool = False, max_chars: int | None = None) -> dict[int, str]:
        """What BM25 indexed (`titled_texts`) for these chunks, or these documents (one row each: their first
        chunk's), by key; each text cut to `max_chars` characters by the database, not read whole."""
        text = Document.text if documents else Chunk.text
        text = text if max_chars is None else func.substr(text, 1, max_chars)
        rows = (self._chunk_rows([Document.id, Document.title, text], keys, Document.id, Chunk.ordinal == 0) if documents
                else self._chunk_rows([Chunk.id, Document.title, text], keys))
        return {key: passage_text(title, body) for key, title, body in rows}

    def _chunk_rows(self, columns: list, ids: Sequence[int], key=Chunk.id, *conditions) -> list:
        """`columns` of the chunks whose `key` is one of `ids` (and that meet `conditions`), `SQL_BATCH` ids a
        statement. A search makes several of these reads, so each is as cheap as it can be: it joins the
        document and the collection only when a column or condition is theirs, and runs on a connection,
        without an ORM session (about half the cost of a read of 200 ids, docs/benchmarks.md)."""
        wanted = sorted({int(i) for i in ids})
        tables = _tables(*columns, key, *conditions)
        statement = select(*columns).select_from(Chunk)
        if tables & {Document.__tablename__, Collection.__tablename__}:
            statement = statement.join(Document, Chunk.document_id == Document.id)
        if Collection.__tablename__ in tables:
            statement = statement.join(Collection, Document.collection_id == Collection.id)
        rows = []
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), SQL_BATCH):
                rows += connection.execute(statement.where(key.in_(wanted[start:start + SQL_BATCH]), *conditions)).all()
        return rows


def _tables(*parts: object) -> set[str]:
    """The names of the tables whose columns these columns or expressions read."""
    elements = (part.__clause_element__() if hasattr(part, "__clause_element__") else part for part in parts)
    return {node.table.name for element in elements for node in visitors.iterate(element) if isinstance(node, Column)}

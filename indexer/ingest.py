"""Bulk ingestion: files -> records -> upserted documents -> chunks -> vectors -> store + vector index.

Work goes in batches of documents, each committed in one transaction with its chunks and their
vectors. A document whose content hash is unchanged is skipped before any encoding, so running the
same input again changes nothing, and a run killed at any moment resumes where its last commit
ended: `open_for_writing` first restores the vector index from what the store committed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, select, update

from .chunking import Chunk as Passage, chunk_texts, passage_text
from .progress import IndexProgress, count_records
from .readers import FieldMap, Record, check_record, read_records
from .search_index import SearchIndex, vector_bytes
from .store import Chunk, Document
from .validation import DEFAULT_MAX_DOCUMENT_CHARS, checked_collection
from .vector_index import choose_index_type

TITLE_TOKENS = 24  # room left in each passage for the title, which is encoded with it
MAX_BAD_SHOWN = 20
# A batch also ends at this much text, and is encoded this many passages at a time: its passages,
# their word pieces and their vectors are all in memory at once, so a batch of long documents must
# not hold as many as a batch of short ones.
BATCH_CHARS = 20_000_000
ENCODE_PASSAGES = 4096


@dataclass
class IndexConfig:
    """How `manage.py index` reads and cuts its input."""

    collection: str = "default"
    format: str = "auto"
    fields: FieldMap = field(default_factory=FieldMap)
    strict: bool = False
    batch_docs: int = 2000  # documents per transaction
    encode_batch_size: int = 64
    overlap_tokens: int = 32
    max_document_chars: int = DEFAULT_MAX_DOCUMENT_CHARS  # a longer text is a bad record

    def __post_init__(self) -> None:
        """A bad collection name is refused here, before any instance is opened or written."""
        checked_collection(self.collection)
        if self.max_document_chars < 1:
            raise ValueError(f"the size limit must be at least 1 character, not {self.max_document_chars}")


@dataclass
class IndexReport:
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: int = 0
    chunks: int = 0
    seconds: float = 0.0
    bad_examples: list[str] = field(default_factory=list)

    def note_bad(self, message: str) -> None:
        self.bad += 1
        if len(self.bad_examples) < MAX_BAD_SHOWN:
            self.bad_examples.append(message)


def content_hash(record: Record) -> str:
    """What decides "changed": title, text and metadata, not where the record was read from. Never
    raises: a lone surrogate (which check_record replaces, but a caller may hash first) is hashed as
    it stands, and every other text hashes as it always has."""
    payload = json.dumps([record.title, record.text, record.metadata], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def index_paths(index: SearchIndex, paths: Sequence[Path], config: IndexConfig, show_progress: bool = True) -> IndexReport:
    """Index every record of `paths` into `config.collection`; returns the counts."""
    report = IndexReport()
    records = read_records(paths, config.format, config.fields, config.strict, on_bad=report.note_bad,
                           max_chars=config.max_document_chars)
    total = count_records(paths, config.format) if show_progress else None
    return index_records(index, records, config, report, show_progress, total)


def index_records(index: SearchIndex, records: Iterable[Record], config: IndexConfig, report: IndexReport | None = None,
                  show_progress: bool = False, total: int | None = None, save: bool = True) -> IndexReport:
    """Upsert `records` into `config.collection` in batches, then save the indexes (unless `save` is
    false: the API's writer applies several queued batches and saves once). The caller holds the
    instance's writer lock and has synced the index (`open_for_writing` does both). `total`, the
    expected number of records, gives the progress bar its end."""
    started = time.perf_counter()
    report = report or IndexReport()
    collection_id = index.collection_id(config.collection)
    with IndexProgress(total, enabled=show_progress) as progress:
        for batch in _batched(records, config.batch_docs):
            progress.start_batch(len(batch))
            _index_batch(index, collection_id, batch, config, report, progress.encoded)
            progress.end_batch(report)
    if save:
        save_index(index)
    report.seconds = time.perf_counter() - started
    return report


def save_index(index: SearchIndex) -> int:
    """Save the indexes after upserts; returns the new version."""
    if index.vectors.index_type == "flat" and choose_index_type(len(index.vectors)) != "flat":
        index.reindex()  # grown past exact search's size: rebuild as a graph index (it saves)
    else:
        index.save()
    return index.version


def _index_batch(index: SearchIndex, collection_id: int, records: list[Record], config: IndexConfig, report: IndexReport,
                 on_encoded: Callable[[int, int], None] = lambda count, of: None) -> None:
    records = _checked(records, config, report)
    report.read += len(records)
    if not records:
        return
    latest = {r.external_id: r for r in records}  # a repeated id within the input: the last one wins
    hashes = {eid: content_hash(r) for eid, r in latest.items()}
    with index.store.session() as session:
        existing = {eid: (doc_id, digest) for doc_id, eid, digest in session.execute(
            select(Document.id, Document.external_id, Document.content_hash)
            .where(Document.collection_id == collection_id, Document.external_id.in_(list(latest))))}
    todo = [r for eid, r in latest.items() if existing.get(eid, (None, None))[1] != hashes[eid]]
    report.unchanged += len(latest) - len(todo)
    if not todo:
        return
    encoder = index.encoder
    max_tokens = max(8, encoder.max_length - 2 - TITLE_TOKENS)
    passages = chunk_texts([r.text for r in todo], encoder.tokenizer, max_tokens, min(config.overlap_tokens, max_tokens // 2))
    # Text the tokenizer drops whole (control characters, say) still gets one passage, so that every
    # stored document is findable and `check` holds.
    passages = [ps or [Passage(0, r.text, 0, len(r.text))] for r, ps in zip(todo, passages)]
    texts = [passage_text(r.title, p.text) for r, ps in zip(todo, passages) for p in ps]
    vectors = np.concatenate([encoder.encode(texts[start:start + ENCODE_PASSAGES], batch_size=config.encode_batch_size,
                                             on_batch=lambda count: on_encoded(count, len(texts)))
                              for start in range(0, len(texts), ENCODE_PASSAGES)])
    old_chunks, new_chunks = _write(index, collection_id, todo, hashes, existing, passages, vectors)
    if len(old_chunks):
        index.vectors.remove(old_chunks)
    index.vectors.add(new_chunks, vectors)
    updated = sum(1 for r in todo if r.external_id in existing)
    report.updated += updated
    report.added += len(todo) - updated
    report.chunks += len(new_chunks)


def _checked(records: list[Record], config: IndexConfig, report: IndexReport) -> list[Record]:
    """The batch's records held to the document rules: those from files and the API passed them in
    parse_record already; records built in code meet them here. A bad one is reported and skipped
    (or stops a strict run), never an exception halfway through a run."""
    good = []
    for record in records:
        checked = check_record(record, config.max_document_chars)
        if isinstance(checked, Record):
            good.append(checked)
        elif config.strict:
            raise checked
        else:
            report.note_bad(str(checked))
    return good


def _write(index: SearchIndex, collection_id: int, todo: list[Record], hashes: dict[str, str],
           existing: dict[str, tuple[int, str]], passages: list[list[Passage]], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One transaction: replace changed documents' chunks, insert new documents, insert all chunks.
    Returns (ids of the chunks replaced, ids of the chunks written, in `vectors` order)."""
    changed = [existing[r.external_id][0] for r in todo if r.external_id in existing]
    fresh = [r for r in todo if r.external_id not in existing]
    with index.store.session.begin() as session:
        old = np.fromiter(session.scalars(select(Chunk.id).where(Chunk.document_id.in_(changed))), dtype=np.int64) if changed else np.empty(0, np.int64)
        if changed:
            session.execute(delete(Chunk).where(Chunk.document_id.in_(changed)))
            session.execute(update(Document), [
                {"id": existing[r.external_id][0], "title": r.title, "text": r.text, "meta": r.metadata, "content_hash": hashes[r.external_id]}
                for r in todo if r.external_id in existing
            ])
        document_ids = {r.external_id: existing[r.external_id][0] for r in todo if r.external_id in existing}
        if fresh:
            inserted = session.execute(
                insert(Document).returning(Document.id, sort_by_parameter_order=True),
                [{"collection_id": collection_id, "external_id": r.external_id, "title": r.title, "text": r.text,
                  "meta": r.metadata, "content_hash": hashes[r.external_id]} for r in fresh],
            ).scalars().all()
            document_ids.update(zip((r.external_id for r in fresh), inserted))
        blobs = iter(vector_bytes(vectors))
        rows = [{"document_id": document_ids[r.external_id], "ordinal": p.ordinal, "text": p.text, "start_char": p.start,
                 "end_char": p.end, "vector": next(blobs)} for r, ps in zip(todo, passages) for p in ps]
        new = session.execute(insert(Chunk).returning(Chunk.id, sort_by_parameter_order=True), rows).scalars().all() if rows else []
    return old, np.array(new, dtype=np.int64)


def _batched(items: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """Batches of `size` records, or fewer where they reach BATCH_CHARS of text."""
    batch, chars = [], 0
    for item in items:
        batch.append(item)
        chars += len(item.text) if isinstance(item.text, str) else 0
        if len(batch) >= size or chars >= BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch

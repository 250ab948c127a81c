"""Bulk ingestion: files -> records -> batches, each upserted through `SearchIndex.upsert`.

Work goes in batches of documents, each committed in one transaction with its chunks and their
vectors. A document whose content hash is unchanged is skipped before any encoding, so running the
same input again changes nothing, and a run killed at any moment resumes where its last commit
ended: `open_for_writing` first restores the vector index from what the store committed. The
indexes are saved once, at the end of the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .progress import IndexProgress, count_records
from .readers import FieldMap, Record, check_record, good_records, read_records
from .search_index import SearchIndex, Upserted
from .validation import DEFAULT_MAX_DOCUMENT_CHARS, checked_collection

MAX_BAD_SHOWN = 20
# A batch also ends at this much text: its passages, their word pieces and their vectors are all in
# memory at once, so a batch of long documents must not hold as many as a batch of short ones.
BATCH_CHARS = 20_000_000


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

    def add(self, upserted: Upserted) -> None:
        self.added += upserted.added
        self.updated += upserted.updated
        self.unchanged += upserted.unchanged
        self.chunks += upserted.chunks


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
    with IndexProgress(total, enabled=show_progress) as progress:
        for batch in _batched(records, config.batch_docs):
            progress.start_batch(len(batch))
            checked = _checked(batch, config, report)
            report.read += len(checked)
            report.add(index.upsert(checked, config.collection, overlap_tokens=config.overlap_tokens,
                                    encode_batch_size=config.encode_batch_size, on_encoded=progress.encoded, save=False))
            progress.end_batch(report)
    if save:
        index.save()
    report.seconds = time.perf_counter() - started
    return report


def _checked(records: list[Record], config: IndexConfig, report: IndexReport) -> list[Record]:
    """The batch's records held to the document rules: those from files and the API passed them in
    parse_record already; records built in code meet them here. A bad one is reported and skipped
    (or stops a strict run), never an exception halfway through a run."""
    checked = (check_record(record, config.max_document_chars) for record in records)
    return list(good_records(checked, config.strict, report.note_bad))


def _batched(items: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """Batches of `size` records, or fewer where they reach BATCH_CHARS of text; one empty batch for
    no records, so that a run over an empty input still creates its collection."""
    batch, chars, batches = [], 0, 0
    for item in items:
        batch.append(item)
        chars += len(item.text) if isinstance(item.text, str) else 0
        if len(batch) >= size or chars >= BATCH_CHARS:
            yield batch
            batch, chars, batches = [], 0, batches + 1
    if batch or not batches:
        yield batch

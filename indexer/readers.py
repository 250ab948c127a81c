"""Streaming readers of document collections: JSONL, CSV, TSV, a folder of .txt/.md files, BEIR.

Collections can be larger than memory, so every file is walked one line (or one CSV row) at a time.
A bad record must neither stop an index run over millions of documents nor vanish silently: it is
named as `path:line: reason` and skipped, or, in strict mode, it stops the run with that message.

This module is the one callers import: it picks the format and the reader, and carries the record
types and checks of `records` with it. Each format family is read in a module of its own
(`jsonl_reader`, `csv_reader`, `folder_reader`), on the line scanning of `record_spans`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from .csv_reader import read_delimited
from .folder_reader import read_folder
from .jsonl_reader import read_jsonl
from .records import FieldMap, InputError, Record, check_record, parse_record
from .validation import DEFAULT_MAX_DOCUMENT_CHARS

__all__ = ["FORMATS", "FieldMap", "InputError", "Record", "check_record", "detect_format", "good_records",
           "parse_record", "read_records", "resolve_input"]

FORMATS = ("auto", "jsonl", "csv", "tsv", "dir", "beir")
_FORMAT_BY_ENDING = {
    ".jsonl": "jsonl",
    ".jsonl.gz": "jsonl",
    ".json.gz": "jsonl",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".tsv.gz": "tsv",
}
_BEIR_CORPUS = "corpus.jsonl"
_BEIR_FIELDS = FieldMap(id="_id")

log = logging.getLogger(__name__)


def detect_format(path: Path) -> str:
    """The format told from the path's kind and name alone, so that `auto` never sniffs contents."""
    if path.is_dir():
        return "beir" if (path / _BEIR_CORPUS).is_file() else "dir"
    name = path.name.lower()
    if name == _BEIR_CORPUS:  # a BEIR corpus file given on its own
        return "beir"
    for ending, format in _FORMAT_BY_ENDING.items():
        if name.endswith(ending):
            return format
    raise ValueError(
        f"{path}: cannot tell the format from the name (expected a folder, .jsonl, .csv or .tsv, "
        "optionally .gz); name the format explicitly"
    )


def read_records(
    paths: Sequence[Path],
    format: str = "auto",
    fields: FieldMap = FieldMap(),
    strict: bool = False,
    on_bad: Callable[[str], None] | None = None,
    max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS,
) -> Iterator[Record]:
    """Every good record of every path in turn. Bad ones go to `on_bad` (a logged warning by default)
    and are skipped, or raise InputError when strict. BEIR corpora always use `_id`, title and text.
    A text longer than `max_chars` characters is a bad record; memory stays within a small multiple
    of that limit whatever the input holds."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    sources = [resolve_input(Path(path), format) for path in paths]
    for source_format, path in sources:
        yield from good_records(_READERS[source_format](path, fields, max_chars), strict, on_bad or log.warning)


def good_records(items: Iterable[Record | InputError], strict: bool, on_bad: Callable[[str], None]) -> Iterator[Record]:
    """The records among `items`, in order; each InputError goes to `on_bad` as its `path:line:
    reason` line, or is raised when `strict`: how every bad record is dealt with, whoever found it."""
    for item in items:
        if isinstance(item, Record):
            yield item
        elif strict:
            raise item
        else:
            on_bad(str(item))


def resolve_input(path: Path, format: str) -> tuple[str, Path]:
    """The format and the file or folder to read, checked before any reading, so that a mistyped
    last path fails at once rather than after the first ones have been indexed for hours."""
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    format = detect_format(path) if format == "auto" else format
    if format == "beir" and path.is_dir():
        path = path / _BEIR_CORPUS
        if not path.is_file():
            raise ValueError(f"{path}: no such file or folder")
    if format == "dir" and not path.is_dir():
        raise ValueError(f"{path}: not a folder, which the dir format reads")
    if format != "dir" and path.is_dir():
        raise ValueError(f"{path}: a folder, not a {format} file")
    return format, path


_READERS: dict[str, Callable[[Path, FieldMap, int], Iterator[Record | InputError]]] = {
    "jsonl": read_jsonl,
    "beir": lambda path, _fields, max_chars: read_jsonl(path, _BEIR_FIELDS, max_chars),
    "csv": lambda path, fields, max_chars: read_delimited(path, fields, ",", max_chars),
    "tsv": lambda path, fields, max_chars: read_delimited(path, fields, "\t", max_chars),
    "dir": lambda path, _fields, max_chars: read_folder(path, max_chars),
}

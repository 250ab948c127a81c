"""Streaming readers of document collections: JSONL, CSV, TSV, a folder of .txt/.md files, BEIR.

Collections can be larger than memory, so every file is walked one line (or one CSV row) at a time.
A bad record must neither stop an index run over millions of documents nor vanish silently: it is
named as `path:line: reason` and skipped, or, in strict mode, it stops the run with that message.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .validation import InvalidValue, clean_metadata, clean_text, id_problem

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
_FOLDER_SUFFIXES = (".txt", ".md")
_BEIR_CORPUS = "corpus.jsonl"
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}
_MARKDOWN_TITLE = re.compile(r"^# +(.*\S)", re.MULTILINE)

log = logging.getLogger(__name__)


@dataclass
class Record:
    """One input document, before it is chunked and stored."""

    external_id: str
    title: str
    text: str
    metadata: dict
    origin: str


@dataclass(frozen=True)
class FieldMap:
    """Which input fields hold the id, title and text; collections name them as they please."""

    id: str = "id"
    title: str = "title"
    text: str = "text"


_BEIR_FIELDS = FieldMap(id="_id")


class InputError(Exception):
    """A bad record in strict mode; the message is `path:line: reason`, the same line on_bad gets."""


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
) -> Iterator[Record]:
    """Every good record of every path in turn. Bad ones go to `on_bad` (a logged warning by default)
    and are skipped, or raise InputError when strict. BEIR corpora always use `_id`, title and text."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    sources = [_resolve(Path(path), format) for path in paths]
    report = on_bad or log.warning
    for source_format, path in sources:
        for item in _READERS[source_format](path, fields):
            if isinstance(item, Record):
                yield item
            elif strict:
                raise item
            else:
                report(str(item))


def _resolve(path: Path, format: str) -> tuple[str, Path]:
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


def _bad(origin: str, reason: str) -> InputError:
    return InputError(f"{origin}: {reason}")


def _json_type(value: Any) -> str:
    """JSON's name for a value's type: the words the person who wrote the file knows."""
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _utf8_problem(raw: bytes, error: UnicodeDecodeError) -> tuple[int, str]:
    """The line (counted from 1 within `raw`) of the first byte that is not UTF-8, and the reason."""
    line_start = raw.rfind(b"\n", 0, error.start) + 1
    column = error.start - line_start + 1
    return raw.count(b"\n", 0, error.start) + 1, f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {column})"


class _Lines:
    """The lines of a (possibly gzipped) file, decoded one by one so that bytes that are not UTF-8
    spoil only their own line, which can then be named. Such a line is still passed on, its bad bytes
    escaped, so that a CSV parser keeps its place; its reason waits in `undecodable` by line number."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.undecodable: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        opener = gzip.open if self.path.name.lower().endswith(".gz") else open
        with opener(self.path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    self.undecodable[number] = _utf8_problem(raw, error)[1]
                    line = raw.decode("utf-8", "surrogateescape")
                yield line.removeprefix("\ufeff") if number == 1 else line


def _read_jsonl(path: Path, fields: FieldMap) -> Iterator[Record | InputError]:
    lines = _Lines(path)
    for number, line in enumerate(lines, 1):
        origin = f"{path}:{number}"
        if number in lines.undecodable:
            yield _bad(origin, lines.undecodable.pop(number))
        elif line.strip():
            yield _parse_json(line.rstrip("\r\n"), fields, origin)


def _parse_json(line: str, fields: FieldMap, origin: str) -> Record | InputError:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return _bad(origin, f"invalid JSON: {error.msg} at column {error.colno}")
    if not isinstance(value, dict):
        return _bad(origin, f"not a JSON object but {_json_type(value)}")
    return parse_record(value, fields, origin)


_Rows = Iterator[tuple[str, "list[str] | InputError"]]  # (path:line, the row or what spoiled it)


def _read_delimited(path: Path, fields: FieldMap, delimiter: str) -> Iterator[Record | InputError]:
    rows = _csv_rows(path, delimiter)
    header = _header(rows, fields, path)
    if isinstance(header, InputError):
        yield header
        return
    for origin, row in rows:
        if isinstance(row, InputError):
            yield row
        elif len(row) != len(header):
            yield _bad(origin, f"expected {len(header)} columns, found {len(row)}")
        else:
            yield parse_record(dict(zip(header, row)), fields, origin)


def _csv_rows(path: Path, delimiter: str) -> _Rows:
    """Non-blank rows, each with the `path:line` it starts on (a quoted field may span lines, so the
    parser's own count, the last line it read, is not the one to name), or what spoiled the row."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # a long document is one field
    lines = _Lines(path)
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        first = reader.line_num + 1
        try:
            row: list[str] | InputError = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            row = _bad(f"{path}:{reader.line_num}", f"malformed row: {error}")
        undecodable = [number for number in range(first, reader.line_num + 1) if number in lines.undecodable]
        if undecodable:
            row = _bad(f"{path}:{undecodable[0]}", lines.undecodable[undecodable[0]])
        if row != []:
            yield f"{path}:{first}", row


def _header(rows: _Rows, fields: FieldMap, path: Path) -> list[str] | InputError:
    """The column names. Without them no row can be read, so a bad header is one bad record for the
    whole file rather than one per row."""
    origin, row = next(rows, (f"{path}:1", []))
    if isinstance(row, InputError):
        return row
    header = [name.strip() for name in row]
    if not header:
        return _bad(origin, "no header row")
    missing = [name for name in (fields.id, fields.text) if name not in header]
    return _bad(origin, f'the header has no "{missing[0]}" column') if missing else header


def _read_folder(folder: Path) -> Iterator[Record | InputError]:
    """One record per .txt or .md file, in sorted order so that repeated runs agree. Each file is
    read whole: a file here is one document, so that is reading one record."""
    files = sorted(
        (file.relative_to(folder).as_posix(), file)
        for file in folder.rglob("*")
        if file.suffix.lower() in _FOLDER_SUFFIXES and file.is_file()
    )
    for external_id, file in files:
        yield _file_record(file, external_id)


def _file_record(file: Path, external_id: str) -> Record | InputError:
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line, reason = _utf8_problem(raw, error)
        return _bad(f"{file}:{line}", reason)
    origin = f"{file}:1"
    if not text.strip():
        return _bad(origin, "empty file")
    heading = _MARKDOWN_TITLE.search(text) if file.suffix.lower() == ".md" else None
    return Record(external_id, heading.group(1) if heading else file.stem, text, {}, origin)


def parse_record(value: dict[str, Any], fields: FieldMap, origin: str) -> Record | InputError:
    """A validated record from a parsed JSON object or CSV row, so that both report the same reasons.
    A null counts as absent, as data-frame exports write missing values. A nested `metadata` object
    (BEIR's) is merged into the other fields rather than kept as one opaque field."""
    problem = (
        _field_problem(value, fields.id, (str, int), required=True)
        or _field_problem(value, fields.text, (str,), required=True)
        or _field_problem(value, fields.title, (str,), required=False)
    )
    external_id = str(value.get(fields.id))
    problem = problem or id_problem(external_id)
    if problem:
        return _bad(origin, problem)
    metadata = {key: item for key, item in value.items() if key not in (fields.id, fields.title, fields.text)}
    if isinstance(metadata.get("metadata"), dict):
        metadata.update(metadata.pop("metadata"))
    try:
        metadata = clean_metadata(metadata)
    except InvalidValue as error:
        return _bad(origin, str(error))
    title = clean_text(value.get(fields.title) or "")
    return Record(external_id, title, clean_text(value[fields.text]), metadata, origin)


def _field_problem(value: dict[str, Any], name: str, kinds: tuple[type, ...], required: bool) -> str | None:
    item = value.get(name)
    if item is None:
        return f'missing "{name}"' if required else None
    if not isinstance(item, kinds) or isinstance(item, bool):
        expected = " or ".join(_JSON_TYPES[kind] for kind in kinds)
        return f'"{name}" must be a {expected}, not {_json_type(item)}'
    if required and not str(item).strip():
        return f'empty "{name}"'
    return None


_READERS: dict[str, Callable[[Path, FieldMap], Iterator[Record | InputError]]] = {
    "jsonl": _read_jsonl,
    "beir": lambda path, _fields: _read_jsonl(path, _BEIR_FIELDS),
    "csv": lambda path, fields: _read_delimited(path, fields, ","),
    "tsv": lambda path, fields: _read_delimited(path, fields, "\t"),
    "dir": lambda path, _fields: _read_folder(path),
}

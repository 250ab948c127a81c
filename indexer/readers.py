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

from .markdown import markdown_text
from .validation import DEFAULT_MAX_DOCUMENT_CHARS, InvalidValue, clean_metadata, clean_text, id_problem, size_problem

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
_TEXT_TITLE = re.compile(r"[ \t]*(\S[^\n]{0,99}?)[ \t]*\r?\n[ \t]*\r?\n")  # a short first line, then a blank one
# A record (a JSONL line, a CSV row, a file) longer than this many bytes per character of the size
# limit cannot hold a text within it: 12 bytes is the longest a character can be written, as the JSON
# escapes of a surrogate pair. Longer records are scanned and refused, never held whole. The slack is
# room for the title and metadata beside a text at the limit.
_BYTES_PER_CHAR = 12
_RECORD_SLACK_BYTES = 1 << 20
_QUOTE = ord('"')

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
    max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS,
) -> Iterator[Record]:
    """Every good record of every path in turn. Bad ones go to `on_bad` (a logged warning by default)
    and are skipped, or raise InputError when strict. BEIR corpora always use `_id`, title and text.
    A text longer than `max_chars` characters is a bad record; memory stays within a small multiple
    of that limit whatever the input holds."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    sources = [resolve_input(Path(path), format) for path in paths]
    report = on_bad or log.warning
    for source_format, path in sources:
        for item in _READERS[source_format](path, fields, max_chars):
            if isinstance(item, Record):
                yield item
            elif strict:
                raise item
            else:
                report(str(item))


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


@dataclass
class _Span:
    """One record's bytes as read (a JSONL line, a CSV row of one or more lines), or only its size
    where that passed the limit: such a record was scanned in pieces but never held whole."""

    line: int  # the line it starts on, counted from 1
    data: bytes | None
    size: int
    unterminated: bool = False  # a CSV quoted field opened on `line` and the file ended inside it


class _Quotes:
    """Whether a CSV row goes on past the end of a line: it does while a quoted field is open.

    The csv module's rules (a '"' opens a quoted field only at the start of a field; inside one, '""'
    is a quote and a lone '"' closes it), followed on bytes, where '"' and the delimiter are always
    themselves in UTF-8, so that a line too long to hold can be scanned in pieces, and with the line
    on which the open field began, which is what an unterminated quote is reported at."""

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter.encode()
        self.reset()

    def reset(self) -> None:
        """A new row: no field open, the next byte starts a field."""
        self.open = False
        self.pending = False  # the last piece ended on a '"' inside the field: a close, or half a '""'
        self.field_start = True
        self.opened_line = 0

    def feed(self, piece: bytes, line: int) -> None:
        """Follow the quoting through `piece`, the next bytes of line `line`; only '"' and the
        delimiter are looked at, with bytes.find, so a row without quotes costs one search."""
        i, n = 0, len(piece)
        while i < n:
            if not self.open:
                if self.field_start and piece[i] == _QUOTE:
                    start = i + 1
                else:
                    found = piece.find(self.delimiter + b'"', i)
                    if found < 0:
                        self.field_start = piece.endswith(self.delimiter)
                        return
                    start = found + len(self.delimiter) + 1
                self.open, self.opened_line, self.field_start, i = True, line, False, start
            elif self.pending:
                self.pending = False
                if piece[i] == _QUOTE:
                    i += 1
                else:
                    self.open = False
            else:
                found = piece.find(b'"', i)
                if found < 0:
                    return
                if found + 1 == n:
                    self.pending = True
                    return
                if piece[found + 1] == _QUOTE:
                    i = found + 2
                else:
                    self.open, i = False, found + 1

    @property
    def unterminated(self) -> bool:
        return self.open and not self.pending


def _spans(path: Path, max_bytes: int, quotes: _Quotes | None = None) -> Iterator[_Span]:
    """The records of a (possibly gzipped) file, one per line, or per CSV row when `quotes` follows
    the quoting, read in pieces of at most `max_bytes` so that no line is held past that size.

    A CSV quoted field still open at the end of the file is reported at the line it opened on, and
    reading resumes on the line after it: the rows it swallowed come back as rows (or as bad records
    where they were the field's own lines), rather than the rest of a file vanishing into one field."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        line = first = 1
        pieces: list[bytes] | None = []
        size = offset = 0
        resume = (1, 0)
        while True:
            piece = handle.readline(max_bytes + 1)
            if piece:
                if quotes:
                    quotes.feed(piece, line)
                size += len(piece)
                offset += len(piece)
                pieces = pieces if pieces is not None and size <= max_bytes else None
                if pieces is not None:
                    pieces.append(piece)
                if not piece.endswith(b"\n"):
                    continue  # the rest of a long line, or the end of the file
            elif not size:
                return
            if quotes and quotes.open and quotes.opened_line == line:
                resume = (line + 1, offset)
            if quotes and quotes.open and piece:
                line += 1
                continue
            if quotes and quotes.unterminated:
                yield _Span(quotes.opened_line, None, size, unterminated=True)
                line, offset = resume
                handle.seek(offset)
            else:
                yield _Span(first, b"".join(pieces) if pieces is not None else None, size)
                line += 1
            first, pieces, size = line, [], 0
            if quotes:
                quotes.reset()


def _decoded(path: Path, span: _Span, max_chars: int) -> str | InputError:
    """A span's text, or why it has none: too long to be a document, or bytes that are not UTF-8
    (named by the line they are on, within a row of several)."""
    if span.data is None:
        return _bad(f"{path}:{span.line}", f"the record has {span.size:,} bytes, more than a text of at most "
                                          f"{max_chars:,} characters can take (--max-chars)")
    try:
        text = span.data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, reason = _utf8_problem(span.data, error)
        return _bad(f"{path}:{span.line + line - 1}", reason)
    return text.removeprefix("\ufeff") if span.line == 1 else text


def _max_bytes(max_chars: int) -> int:
    return _BYTES_PER_CHAR * max_chars + _RECORD_SLACK_BYTES


def _read_jsonl(path: Path, fields: FieldMap, max_chars: int) -> Iterator[Record | InputError]:
    for span in _spans(path, _max_bytes(max_chars)):
        line = _decoded(path, span, max_chars)
        if isinstance(line, InputError):
            yield line
        elif line.strip():
            yield _parse_json(line.rstrip("\r\n"), fields, f"{path}:{span.line}", max_chars)


def _parse_json(line: str, fields: FieldMap, origin: str, max_chars: int) -> Record | InputError:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return _bad(origin, f"invalid JSON: {error.msg} at column {error.colno}")
    if not isinstance(value, dict):
        return _bad(origin, f"not a JSON object but {_json_type(value)}")
    return parse_record(value, fields, origin, max_chars)


_Rows = Iterator[tuple[str, "list[str] | InputError"]]  # (path:line, the row or what spoiled it)


def _read_delimited(path: Path, fields: FieldMap, delimiter: str, max_chars: int) -> Iterator[Record | InputError]:
    rows = _csv_rows(path, delimiter, max_chars)
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
            yield parse_record(dict(zip(header, row)), fields, origin, max_chars)


def _csv_rows(path: Path, delimiter: str, max_chars: int) -> _Rows:
    """Non-blank rows, each with the `path:line` it starts on, or what spoiled the row. `_spans` finds
    where rows end; the csv module then parses each row on its own, strictly: a quote that closes
    before anything but a delimiter (`"a"b`) most often means a stray quote that swallowed the lines
    up to the next one, so such a row is reported with the lines it took rather than read."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # a long document is one field
    for span in _spans(path, _max_bytes(max_chars), _Quotes(delimiter)):
        origin = f"{path}:{span.line}"
        if span.unterminated:
            yield origin, _bad(origin, "unterminated quoted field: the '\"' that opens a field here is never "
                                       "closed; the lines after it are read as rows of their own")
            continue
        text = _decoded(path, span, max_chars)
        if isinstance(text, InputError):
            yield origin, text
            continue
        try:
            row: list[str] | InputError = next(csv.reader([text], delimiter=delimiter, strict=True), [])
        except csv.Error as error:
            last = span.line + text.count("\n", 0, len(text) - 1)
            lines = f" (lines {span.line}-{last}, which it runs over)" if last > span.line else ""
            row = _bad(origin, f"malformed row{lines}: {error}")
        if row != []:
            yield origin, row


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


def _read_folder(folder: Path, max_chars: int) -> Iterator[Record | InputError]:
    """One record per .txt or .md file, in sorted order so that repeated runs agree; any other file
    is a bad record, so that none is left out unsaid. Hidden files and folders (`.git/`, `.DS_Store`)
    are not documents by convention and are passed over."""
    files = sorted(
        (file.relative_to(folder).as_posix(), file)
        for file in folder.rglob("*")
        if file.is_file() and not any(part.startswith(".") for part in file.relative_to(folder).parts)
    )
    for external_id, file in files:
        if file.suffix.lower() in _FOLDER_SUFFIXES:
            yield _file_record(file, external_id, max_chars)
        else:
            yield _bad(str(file), "only .txt and .md files are read")


def _file_record(file: Path, external_id: str, max_chars: int) -> Record | InputError:
    """A file as one document. Markdown is indexed as the plain text it reads as (its title the first
    `# ` heading); a text file's title is its first line where that is a heading (short, then a blank
    line), else the file name."""
    size = file.stat().st_size
    text = _decoded(file, _Span(1, None if size > _max_bytes(max_chars) else file.read_bytes(), size), max_chars)
    if isinstance(text, InputError):
        return text
    origin = f"{file}:1"
    if not text.strip():
        return _bad(origin, "empty file")
    if file.suffix.lower() == ".md":
        heading = _MARKDOWN_TITLE.search(text)
        title, text = (heading.group(1) if heading else ""), markdown_text(text)
    else:
        heading = _TEXT_TITLE.match(text)
        title = heading.group(1) if heading else ""
    return check_record(Record(external_id, title or file.stem, text, {}, origin), max_chars)


def parse_record(value: dict[str, Any], fields: FieldMap, origin: str,
                 max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> Record | InputError:
    """A validated record from a parsed JSON object or CSV row, so that both report the same reasons.
    A null counts as absent, as data-frame exports write missing values. A nested `metadata` object
    (BEIR's) is merged into the other fields rather than kept as one opaque field."""
    problem = (
        _field_problem(value, fields.id, (str, int), required=True)
        or _field_problem(value, fields.text, (str,), required=True)
        or _field_problem(value, fields.title, (str,), required=False)
    )
    if problem:
        return _bad(origin, problem)
    metadata = {key: item for key, item in value.items() if key not in (fields.id, fields.title, fields.text)}
    if isinstance(metadata.get("metadata"), dict):
        metadata.update(metadata.pop("metadata"))
    record = Record(str(value[fields.id]), value.get(fields.title) or "", value[fields.text], metadata, origin)
    return check_record(record, max_chars)


def check_record(record: Record, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> Record | InputError:
    """`record` held to the document rules of indexer/validation.py, cleaned; or why it breaks them.
    The one boundary: files and API bodies reach it through parse_record, and `index_records` applies
    it to records built in code, so a document is stored by the same rules whoever made it."""
    problem = _shape_problem(record) or id_problem(record.external_id) or size_problem(len(record.text), max_chars)
    if problem:
        return _bad(record.origin, problem)
    try:
        metadata = clean_metadata(record.metadata)
    except InvalidValue as error:
        return _bad(record.origin, str(error))
    text = clean_text(record.text)
    if not text.strip():  # tested once cleaned, so that a second check gives the same answer
        return _bad(record.origin, "the text is empty")
    return Record(record.external_id, clean_text(record.title), text, metadata, record.origin)


def _shape_problem(record: Record) -> str | None:
    """What a record built in code (not parsed, so unchecked by type) has of the wrong kind."""
    for name, value, kind in (("id", record.external_id, str), ("title", record.title, str),
                              ("text", record.text, str), ("metadata", record.metadata, dict)):
        if not isinstance(value, kind):
            return f"the {name} must be a {_JSON_TYPES[kind]}, not {_json_type(value)}"
    return None


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


_READERS: dict[str, Callable[[Path, FieldMap, int], Iterator[Record | InputError]]] = {
    "jsonl": _read_jsonl,
    "beir": lambda path, _fields, max_chars: _read_jsonl(path, _BEIR_FIELDS, max_chars),
    "csv": lambda path, fields, max_chars: _read_delimited(path, fields, ",", max_chars),
    "tsv": lambda path, fields, max_chars: _read_delimited(path, fields, "\t", max_chars),
    "dir": lambda path, _fields, max_chars: _read_folder(path, max_chars),
}

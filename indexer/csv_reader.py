"""CSV and TSV collections: a header row naming the columns, then one record a row.

`record_spans` finds where each row ends (a quoted field may hold line breaks); the csv module then
parses each row on its own, so that one malformed row is one bad record, named by the line it starts
on, rather than the end of the reading.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from .record_spans import Quotes, decoded, spans
from .records import FieldMap, InputError, Record, parse_record

_Rows = Iterator[tuple[str, "list[str] | InputError"]]  # (path:line, the row or what spoiled it)


def read_delimited(path: Path, fields: FieldMap, delimiter: str, max_chars: int) -> Iterator[Record | InputError]:
    """A record, or why there is none, for each non-blank row after the header; a header without
    the id or the text column is one bad record for the whole file."""
    rows = _csv_rows(path, delimiter, max_chars)
    header = _header(rows, fields, path)
    if isinstance(header, InputError):
        yield header
        return
    for origin, row in rows:
        if isinstance(row, InputError):
            yield row
        elif len(row) != len(header):
            yield InputError.at(origin, f"expected {len(header)} columns, found {len(row)}")
        else:
            yield parse_record(dict(zip(header, row)), fields, origin, max_chars)


def _csv_rows(path: Path, delimiter: str, max_chars: int) -> _Rows:
    """Non-blank rows, each with the `path:line` it starts on, or what spoiled the row. The csv module
    parses each row strictly: a quote that closes before anything but a delimiter (`"a"b`) most often
    means a stray quote that swallowed the lines up to the next one, so such a row is reported with
    the lines it took rather than read."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # a long document is one field
    for span in spans(path, max_chars, Quotes(delimiter)):
        origin = f"{path}:{span.line}"
        if span.unterminated:
            yield origin, InputError.at(origin, "unterminated quoted field: the '\"' that opens a field here is "
                                                "never closed; the lines after it are read as rows of their own")
            continue
        text = decoded(path, span, max_chars)
        if isinstance(text, InputError):
            yield origin, text
            continue
        try:
            row: list[str] | InputError = next(csv.reader([text], delimiter=delimiter, strict=True), [])
        except csv.Error as error:
            last = span.line + text.count("\n", 0, len(text) - 1)
            lines = f" (lines {span.line}-{last}, which it runs over)" if last > span.line else ""
            row = InputError.at(origin, f"malformed row{lines}: {error}")
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
        return InputError.at(origin, "no header row")
    missing = [name for name in (fields.id, fields.text) if name not in header]
    return InputError.at(origin, f'the header has no "{missing[0]}" column') if missing else header

"""Where each record of an input file lies (a line, or a CSV row over several), found on the bytes.

Collections can be larger than memory, so a file is walked one line at a time and a line is read in
pieces of bounded size: a record longer than any document could be is measured and refused, never
held whole. Each record keeps the line it starts on, so that whatever is wrong with it, down to a
byte that is not UTF-8 inside a row of several lines, is named as `path:line: reason`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .records import InputError

# A record (a JSONL line, a CSV row, a file) longer than this many bytes per character of the size
# limit cannot hold a text within it: 12 bytes is the longest a character can be written, as the JSON
# escapes of a surrogate pair. Longer records are scanned and refused, never held whole. The slack is
# room for the title and metadata beside a text at the limit.
_BYTES_PER_CHAR = 12
_RECORD_SLACK_BYTES = 1 << 20
_QUOTE = ord('"')


@dataclass
class Span:
    """One record's bytes as read (a JSONL line, a CSV row of one or more lines), or only its size
    where that passed the limit: such a record was scanned in pieces but never held whole."""

    line: int  # the line it starts on, counted from 1
    data: bytes | None
    size: int
    unterminated: bool = False  # a CSV quoted field opened on `line` and the file ended inside it


class Quotes:
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


def open_bytes(path: Path) -> IO[bytes]:
    """An input file's bytes, decompressed where its name ends in .gz (in any case)."""
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def max_bytes(max_chars: int) -> int:
    """The most bytes a record whose text has at most `max_chars` characters can take."""
    return _BYTES_PER_CHAR * max_chars + _RECORD_SLACK_BYTES


def spans(path: Path, max_chars: int, quotes: Quotes | None = None) -> Iterator[Span]:
    """The records of a (possibly gzipped) file, one per line, or per CSV row when `quotes` follows
    the quoting, read in pieces so that no line is held past `max_bytes(max_chars)`.

    A CSV quoted field still open at the end of the file is reported at the line it opened on, and
    reading resumes on the line after it: the rows it swallowed come back as rows (or as bad records
    where they were the field's own lines), rather than the rest of a file vanishing into one field."""
    limit = max_bytes(max_chars)
    with open_bytes(path) as handle:
        line = first = 1
        pieces: list[bytes] | None = []
        size = offset = 0
        resume = (1, 0)
        while True:
            piece = handle.readline(limit + 1)
            if piece:
                if quotes:
                    quotes.feed(piece, line)
                size += len(piece)
                offset += len(piece)
                pieces = pieces if pieces is not None and size <= limit else None
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
                yield Span(quotes.opened_line, None, size, unterminated=True)
                line, offset = resume
                handle.seek(offset)
            else:
                yield Span(first, b"".join(pieces) if pieces is not None else None, size)
                line += 1
            first, pieces, size = line, [], 0
            if quotes:
                quotes.reset()


def decoded(path: Path, span: Span, max_chars: int) -> str | InputError:
    """A span's text, or why it has none: too long to be a document, or bytes that are not UTF-8
    (named by the line they are on, within a row of several)."""
    if span.data is None:
        return InputError.at(f"{path}:{span.line}", f"the record has {span.size:,} bytes, more than a text of at "
                                                    f"most {max_chars:,} characters can take (--max-chars)")
    try:
        text = span.data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, reason = _utf8_problem(span.data, error)
        return InputError.at(f"{path}:{span.line + line - 1}", reason)
    return text.removeprefix("\ufeff") if span.line == 1 else text


def _utf8_problem(raw: bytes, error: UnicodeDecodeError) -> tuple[int, str]:
    """The line (counted from 1 within `raw`) of the first byte that is not UTF-8, and the reason."""
    line_start = raw.rfind(b"\n", 0, error.start) + 1
    column = error.start - line_start + 1
    return raw.count(b"\n", 0, error.start) + 1, f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {column})"

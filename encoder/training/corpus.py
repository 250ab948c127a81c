"""Streaming readers for training data: WikiExtractor dumps, plain text files and JSON lines.

A corpus is read one document at a time from (possibly xz/gzip/bz2-compressed) files, so the
pretraining data of any size never sits in memory whole.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.sax.saxutils import unescape

_DOC_START = re.compile(r"<doc\b([^>]*)>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
# WikiExtractor's output is XML: `<doc … title="AT&amp;T">`, the title repeated as the first line in the
# same escaped form, and body text that some versions escape too (ours keep it raw). The XML escapes
# (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&#39;`) are undone, and nothing else: html.unescape
# would also read HTML's entities without a semicolon and turn a raw URL's `&section=` into `§ion=`
# (three body lines of enwiki2014 AA and AI hold such a URL; none holds a literal `&amp;`).
_XML_ENTITIES = {"&quot;": '"', "&apos;": "'", "&#39;": "'", "&#x27;": "'"}
# WikiExtractor keeps section headings as short lines ("Early life."); they carry no sentence pairs.
MIN_PARAGRAPH_WORDS = 4


@dataclass
class Document:
    """One article or text: a title (may be empty) and its paragraphs in order."""

    title: str
    paragraphs: list[str]
    id: str = ""  # WikiExtractor's article id and URL, when read from its output
    url: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


def open_text(path: str | Path) -> IO[str]:
    """Open a text file for streaming, decompressing .xz, .gz and .bz2 by their suffix."""
    path = Path(path)
    opener = {".xz": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    return opener(path, "rt", encoding="utf-8", errors="replace")


def read_wikiextractor(lines: Iterable[str], min_words: int = MIN_PARAGRAPH_WORDS) -> Iterator[Document]:
    """Documents from WikiExtractor output: `<doc id="…" url="…" title="…">`, the title line,
    paragraphs, `</doc>`, unescaped. Lines of fewer than `min_words` words (headings) are dropped."""
    header: dict[str, str] | None = None
    paragraphs: list[str] = []
    for line in lines:
        line = line.strip()
        if match := _DOC_START.match(line):
            header, paragraphs = dict(_ATTRIBUTE.findall(match.group(1))), []
        elif line == "</doc>":
            if header is not None and paragraphs:
                yield Document(_unescape(header.get("title", "")), paragraphs, header.get("id", ""), header.get("url", ""))
            header = None
        elif header is not None and line and line != header.get("title") and len(line.split()) >= min_words:
            paragraphs.append(_unescape(line))


def _unescape(text: str) -> str:
    return unescape(text, _XML_ENTITIES) if "&" in text else text


def read_plain(lines: Iterable[str]) -> Iterator[Document]:
    """Documents from plain text: one paragraph per line, a blank line between documents."""
    paragraphs: list[str] = []
    for line in lines:
        line = line.strip()
        if line:
            paragraphs.append(line)
        elif paragraphs:
            yield Document("", paragraphs)
            paragraphs = []
    if paragraphs:
        yield Document("", paragraphs)


def read_corpus(paths: Iterable[str | Path]) -> Iterator[Document]:
    """Every document of every file in turn; the format is told from each file's first line."""
    for path in paths:
        lines = text_lines(path)
        first = next(lines, "")
        reader = read_wikiextractor if first.lstrip().startswith("<doc") else read_plain
        yield from reader(_chain([first], lines))


def text_lines(path: str | Path) -> Iterator[str]:
    """The lines of a text file, decompressed as `open_text` does. A compressed file that ends early
    (a copy cut short, or one still being written) or is not what its suffix says is a ValueError
    naming the file, which the command line reports in one line, not a decompressor's traceback."""
    try:
        with open_text(path) as handle:
            yield from handle
    except (EOFError, lzma.LZMAError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:  # the file system's (missing, unreadable): clear already
            raise
        raise ValueError(f"{path}: cannot read this file to its end ({exc}); is it cut short or not {Path(path).suffix or 'text'}?") from None


def _chain(head: list[str], rest: Iterable[str]) -> Iterator[str]:
    yield from head
    yield from rest


def json_object(line: str) -> dict | None:
    """One line's JSON object; None for a line that is blank, not JSON or not an object (public data
    sets hold a few such lines, which should not cost a training run)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def json_objects(lines: Iterable[str]) -> Iterator[dict]:
    """The JSON objects of JSON-lines text, one per line, the lines that hold none skipped (`json_object`)."""
    for line in lines:
        record = json_object(line)
        if record is not None:
            yield record


def json_lines(path: str | Path) -> Iterator[dict]:
    """The JSON objects of a JSON-lines file (read by `text_lines`), leniently (`json_objects`)."""
    yield from json_objects(text_lines(path))

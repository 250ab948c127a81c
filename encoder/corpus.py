"""Streaming readers for raw training text: WikiExtractor dumps and plain text files.

A corpus is read one document at a time from (possibly xz/gzip/bz2-compressed) files, so the
pretraining data of any size never sits in memory whole.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_DOC_START = re.compile(r'<doc\b[^>]*\btitle="([^"]*)"[^>]*>')
# A sentence ends at . ! or ? (optionally closed by a quote or bracket) followed by whitespace and an
# upper-case letter, digit or opening quote. Crude next to a trained splitter, but dependency-free,
# and an imperfect split only moves a segment boundary a little.
_SENTENCE_END = re.compile(r'(?<=[.!?])["\')\]]?\s+(?=["\'(\[]?[A-Z0-9])')
# WikiExtractor keeps section headings as short lines ("Early life."); they carry no sentence pairs.
MIN_PARAGRAPH_WORDS = 4


@dataclass
class Document:
    """One article or text: a title (may be empty) and its paragraphs in order."""

    title: str
    paragraphs: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


def open_text(path: str | Path) -> IO[str]:
    """Open a text file for streaming, decompressing .xz, .gz and .bz2 by their suffix."""
    path = Path(path)
    opener = {".xz": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    return opener(path, "rt", encoding="utf-8", errors="replace")


def read_wikiextractor(lines: Iterable[str]) -> Iterator[Document]:
    """Documents from WikiExtractor output: `<doc … title="…">`, the title line, paragraphs, `</doc>`."""
    title, paragraphs, inside = "", [], False
    for line in lines:
        line = line.strip()
        if match := _DOC_START.match(line):
            title, paragraphs, inside = match.group(1), [], True
        elif line == "</doc>":
            if inside and paragraphs:
                yield Document(title, paragraphs)
            inside = False
        elif inside and line and line != title and len(line.split()) >= MIN_PARAGRAPH_WORDS:
            paragraphs.append(line)


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
        with open_text(path) as handle:
            first = handle.readline()
            lines = _chain([first], handle)
            reader = read_wikiextractor if first.lstrip().startswith("<doc") else read_plain
            yield from reader(lines)


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences at sentence-final punctuation."""
    return [s for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _chain(head: list[str], rest: Iterable[str]) -> Iterator[str]:
    yield from head
    yield from rest

"""Streaming readers for raw training text: WikiExtractor dumps and plain text files.

A corpus is read one document at a time from (possibly xz/gzip/bz2-compressed) files, so the
pretraining data of any size never sits in memory whole.
"""

from __future__ import annotations

import bz2
import json
import gzip
import lzma
import re
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

# Sentence boundaries, for pretraining pairs and for cutting passages. A line break always ends a
# sentence; `.`, `!` or `?`, closed by any quotes or brackets, ends one when whitespace follows and
# the next word does not begin in lower case ("e.g. the") and the full stop does not end an
# abbreviation ("Mr.", "Fig.", "U.S.") or an initial ("J. Smith"). No whitespace, no boundary: "1.2"
# and "e.g." are never cut inside. Crude next to a trained splitter, but dependency-free; a missed
# boundary only makes a passage end one sentence earlier.
_BREAK = re.compile(r"""[.!?]["'”’)\]]*\s+|\n\s*""")
_OPENERS = "\"'\u201c\u2018(["
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof rev gen col lt sgt capt gov sen rep st mt ft jr sr vs fig figs eq eqs ref refs no nos "
    "vol vols pp ch sec ca approx al cf ed eds dept univ jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_DOTTED = re.compile(r"(?:[A-Za-z]{1,3}\.)+[A-Za-z]{1,3}")  # e.g, i.e, U.S, Ph.D (their last dot matched apart)
_WORD_WINDOW = 16  # characters looked back for the word before a full stop; abbreviations are shorter


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
        with open_text(path) as handle:
            first = handle.readline()
            lines = _chain([first], handle)
            reader = read_wikiextractor if first.lstrip().startswith("<doc") else read_plain
            yield from reader(lines)


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences (see `sentence_starts`), each stripped of surrounding space."""
    bounds = [0, *sentence_starts(paragraph), len(paragraph)]
    return [sentence for start, end in zip(bounds, bounds[1:]) if (sentence := paragraph[start:end].strip())]


def sentence_starts(text: str) -> list[int]:
    """The character offsets, ascending, where a sentence other than the first begins (always a
    non-space character after whitespace). The per-character work is in the regular expression;
    Python sees only the candidate boundaries, so a long text costs one pass."""
    starts = []
    for match in _BREAK.finditer(text):
        end = match.end()
        if end < len(text) and ("\n" in match.group() or _ends_sentence(text, match.start(), end)):
            starts.append(end)
    return starts


def _ends_sentence(text: str, mark: int, next_start: int) -> bool:
    """Whether the punctuation at `mark`, followed by whitespace up to `next_start`, ends a sentence."""
    following = next_start
    while following < len(text) - 1 and text[following] in _OPENERS:
        following += 1
    if text[following].islower():
        return False
    if text[mark] != ".":
        return True
    before = text[max(0, mark - _WORD_WINDOW):mark].split()
    word = before[-1].lstrip(_OPENERS) if before else ""
    return not (word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or _DOTTED.fullmatch(word))


def _chain(head: list[str], rest: Iterable[str]) -> Iterator[str]:
    yield from head
    yield from rest


def json_objects(lines: Iterable[str]) -> Iterator[dict]:
    """The JSON objects of JSON-lines text, one per line; a line that is blank, not JSON or not an
    object is skipped (public data sets hold a few such lines, which should not cost a training run)."""
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            yield record


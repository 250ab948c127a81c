"""Cutting documents into passages that fit the encoder, with character offsets for highlighting.

The encoder reads at most max_length word pieces and would silently drop the rest of a longer
document, so such a document is cut into overlapping windows, each ending at a sentence end where one
falls near its limit, so that a passage reads as whole sentences. Chunks keep their character offsets
into the document, so that the UI can highlight the matching passage in place.

Speed: all texts of a batch are tokenised in one call (every core, in Rust). The Python work per
document is then proportional to its number of chunks, not to its length: a short document costs one
comparison; a long one finds its sentence and word starts with numpy in one pass and places each
window by bisection, since a Python loop over every piece is what would make indexing crawl.

Memory: the tokenizer's output costs some hundred bytes per word piece, so a text is tokenised at
most SECTION_CHARS characters at a time, cut at a line break (else a space) where one falls in its
last quarter, and a call tokenises at most TOKENISE_CHARS characters in all. A 50 MB document is thus
chunked within the memory of its passages, not ten times its size.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from encoder import TextTokenizer

_SENTENCE_PUNCTUATION = np.array([ord(char) for char in ".!?"], dtype=np.uint32)
_NEWLINE = ord("\n")
SECTION_CHARS = 100_000
TOKENISE_CHARS = 1_000_000


def passage_text(title: str, passage: str) -> str:
    """What is encoded and BM25-indexed for a passage: the document's title gives it context."""
    return f"{title}\n{passage}" if title else passage


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; `text == document[start:end]`, in characters."""

    ordinal: int
    text: str
    start: int
    end: int


def chunk_texts(
    texts: Sequence[str], tokenizer: TextTokenizer, max_tokens: int, overlap_tokens: int
) -> list[list[Chunk]]:
    """The chunks of each text, in order; none for an empty or whitespace-only text. `max_tokens`
    counts word pieces without [CLS] and [SEP], so an encoder's share is its max_length - 2."""
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"need 0 <= overlap_tokens < max_tokens, got {overlap_tokens} and {max_tokens}")
    sections = [(i, start, end) for i, text in enumerate(texts) for start, end in _sections(text)]
    chunks: list[list[Chunk]] = [[] for _ in texts]
    for group in _groups(sections):
        pieces = [texts[i][start:end] for i, start, end in group]
        for (i, start, _), piece, spans in zip(group, pieces, tokenizer.token_offsets(pieces)):
            chunks[i] += [Chunk(len(chunks[i]) + c.ordinal, c.text, start + c.start, start + c.end)
                          for c in _chunks(piece, spans, max_tokens, overlap_tokens)]
    return chunks


def _sections(text: str) -> list[tuple[int, int]]:
    """[start, end) ranges of at most SECTION_CHARS that tile `text`; their ends are passage ends."""
    ranges, start = [], 0
    while len(text) - start > SECTION_CHARS:
        limit = start + SECTION_CHARS
        floor = limit - SECTION_CHARS // 4
        cut = text.rfind("\n", floor, limit)
        cut = cut if cut >= 0 else text.rfind(" ", floor, limit)
        end = cut + 1 if cut >= 0 else limit
        ranges.append((start, end))
        start = end
    ranges.append((start, len(text)))
    return ranges


def _groups(sections: list[tuple[int, int, int]]) -> list[list[tuple[int, int, int]]]:
    """Consecutive sections, grouped into tokenizer calls of at most TOKENISE_CHARS characters."""
    groups: list[list[tuple[int, int, int]]] = [[]]
    chars = 0
    for section in sections:
        size = section[2] - section[1]
        if groups[-1] and chars + size > TOKENISE_CHARS:
            groups.append([])
            chars = 0
        groups[-1].append(section)
        chars += size
    return groups


def _chunks(text: str, offsets: list[tuple[int, int]], max_tokens: int, overlap: int) -> list[Chunk]:
    if not offsets:
        return []
    windows = [(0, len(offsets))] if len(offsets) <= max_tokens else _windows(text, offsets, max_tokens, overlap)
    chunks = []
    for ordinal, (first, stop) in enumerate(windows):
        start, end = offsets[first][0], offsets[stop - 1][1]
        chunks.append(Chunk(ordinal, text[start:end], start, end))
    return chunks


def _windows(text: str, offsets: list[tuple[int, int]], max_tokens: int, overlap: int) -> list[tuple[int, int]]:
    """The piece ranges [first, stop) of the windows over a text longer than one window. Each ends
    past the previous one, or it would add nothing; where the overlap leaves no room for the next
    whole word, the overlap is given up rather than the word cut."""
    cuts = _CutPoints.of(text, offsets)
    windows, first, stop = [], 0, 0
    while first + max_tokens < len(offsets):
        end = cuts.window_end(first, stop, max_tokens)
        if end is None and first < stop:
            first = stop
            continue
        stop = end or first + max_tokens
        windows.append((first, stop))
        first = cuts.next_first(first, stop, overlap)
    windows.append((first, len(offsets)))
    return windows


@dataclass
class _CutPoints:
    """The sorted indices of the pieces where a window may start (and the one before it end).

    Windows start and end at word starts, because a word cut in two tokenises differently on its own
    (its second half loses the `##`) and the passage would no longer be the pieces that were counted.
    Index 0 is never listed: no window ends there.
    """

    sentences: list[int]  # pieces after a `.`, `!` or `?` piece, or after a piece followed by a newline
    words: list[int]  # pieces after whitespace, and sentence starts

    @classmethod
    def of(cls, text: str, offsets: list[tuple[int, int]]) -> _CutPoints:
        """Found for the whole text at once with numpy rather than by a Python loop over pieces."""
        flat = itertools.chain.from_iterable(offsets)  # fromiter is ~3x faster than asarray on pairs
        spans = np.fromiter(flat, dtype=np.int64, count=2 * len(offsets)).reshape(-1, 2)
        starts, ends = spans[:, 0], spans[:, 1]
        next_starts = np.append(starts[1:], len(text))
        chars = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # one element per Python character
        newlines = np.flatnonzero(chars == _NEWLINE)
        ends_sentence = np.searchsorted(newlines, next_starts) > np.searchsorted(newlines, ends)
        single = np.flatnonzero(ends - starts == 1)
        ends_sentence[single] |= np.isin(chars[starts[single]], _SENTENCE_PUNCTUATION)
        ends_word = ends_sentence | (next_starts > ends)
        sentences, words = (np.flatnonzero(mask[:-1]) + 1 for mask in (ends_sentence, ends_word))
        return cls(sentences.tolist(), words.tolist())

    def window_end(self, first: int, floor: int, max_tokens: int) -> int | None:
        """Where a window from `first` ends: after the last sentence end in its last third, else at the
        last word start within it, either past `floor`; None if only a cut inside a word would do."""
        limit = first + max_tokens
        sentence_end = _last_in(self.sentences, max(limit - max_tokens // 3, floor), limit)
        return sentence_end or _last_in(self.words, floor, limit)

    def next_first(self, first: int, stop: int, overlap: int) -> int:
        """Where the window after [first, stop) starts: `overlap` pieces before `stop`, moved forward to
        a sentence start within the overlap if there is one, else back to the start of its word (or,
        when that is `first` itself, forward to the next one); always past `first`."""
        candidate = max(stop - overlap, first + 1)
        return (
            _first_in(self.sentences, candidate, stop)
            or _last_in(self.words, first, candidate)
            or _first_in(self.words, candidate, stop + 1)
            or candidate
        )


def _last_in(points: list[int], low: int, high: int) -> int | None:
    """The largest point in (low, high], if any; points are sorted and positive."""
    index = bisect_right(points, high) - 1
    return points[index] if index >= 0 and points[index] > low else None


def _first_in(points: list[int], low: int, high: int) -> int | None:
    """The smallest point in [low, high), if any; points are sorted and positive."""
    index = bisect_left(points, low)
    return points[index] if index < len(points) and points[index] < high else None

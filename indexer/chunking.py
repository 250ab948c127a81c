"""Cutting documents into passages that fit the encoder, with character offsets for highlighting.

The encoder reads at most max_length word pieces and would silently drop the rest of a longer
document, so such a document is cut into windows of whole sentences: each passage starts where a
sentence starts and ends where one ends, and repeats as overlap the previous passage's last whole
sentences that fit the overlap budget (none, when its last sentence alone is longer). Only a sentence
longer than a passage is cut inside, at a word start, never inside "1.2" or "e.g.". Chunks keep their
character offsets into the document, so that the UI can highlight the matching passage in place.

Speed: all texts of a batch are tokenised in one call (every core, in Rust). The Python work per
document is then proportional to its number of chunks (and sentences), not to its length: a short
document costs one comparison; a long one finds its word starts with numpy in one pass, its sentence
starts with one regular expression, and places each window by bisection, since a Python loop over
every piece is what would make indexing crawl.

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

from encoder import TextTokenizer, sentence_starts

SECTION_CHARS = 100_000
TOKENISE_CHARS = 1_000_000


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
    whole sentence (or, inside a long sentence, the next whole word), the overlap is given up rather
    than that sentence or word cut."""
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

    Windows start and end at sentence starts; inside a sentence longer than a window, at word starts,
    because a word cut in two tokenises differently on its own (its second half loses the `##`) and
    the passage would no longer be the pieces that were counted. Index 0 is never listed: no window
    ends there.
    """

    sentences: list[int]  # pieces where a sentence starts (encoder.sentence_starts)
    words: list[int]  # pieces after whitespace, sentence starts among them

    @classmethod
    def of(cls, text: str, offsets: list[tuple[int, int]]) -> _CutPoints:
        """Found for the whole text at once with numpy rather than by a Python loop over pieces."""
        flat = itertools.chain.from_iterable(offsets)  # fromiter is ~3x faster than asarray on pairs
        spans = np.fromiter(flat, dtype=np.int64, count=2 * len(offsets)).reshape(-1, 2)
        starts, ends = spans[:, 0], spans[:, 1]
        # The first piece at or after each sentence's first character (which a tokenizer may drop).
        sentences = np.unique(np.searchsorted(starts, np.asarray(sentence_starts(text), dtype=np.int64)))
        sentences = sentences[(sentences > 0) & (sentences < len(offsets))]
        words = np.union1d(np.flatnonzero(starts[1:] > ends[:-1]) + 1, sentences)
        return cls(sentences.tolist(), words.tolist())

    def window_end(self, first: int, floor: int, max_tokens: int) -> int | None:
        """Where a window from `first` ends, past `floor`: after its last whole sentence; inside a
        sentence that runs past the limit, at its last word start; None if only the overlap's
        sentences fit (the caller gives the overlap up) or only a cut inside a word would do."""
        limit = first + max_tokens
        if (sentence_end := _last_in(self.sentences, floor, limit)) is not None:
            return sentence_end
        if _last_in(self.sentences, first, limit) is not None:
            return None
        return _last_in(self.words, floor, limit)

    def next_first(self, first: int, stop: int, overlap: int) -> int:
        """Where the window after [first, stop) starts: at the earliest sentence start within the last
        `overlap` pieces (so the overlap is whole sentences), else at `stop`; after a cut inside a long
        sentence, at the earliest word start within them; after a cut inside a word, `overlap` pieces
        back. Always past `first`."""
        low = max(stop - overlap, first + 1)
        points = self.sentences if _last_in(self.sentences, stop - 1, stop) else self.words
        return _first_in(points, low, stop + 1) or low


def _last_in(points: list[int], low: int, high: int) -> int | None:
    """The largest point in (low, high], if any; points are sorted and positive."""
    index = bisect_right(points, high) - 1
    return points[index] if index >= 0 and points[index] > low else None


def _first_in(points: list[int], low: int, high: int) -> int | None:
    """The smallest point in [low, high), if any; points are sorted and positive."""
    index = bisect_left(points, low)
    return points[index] if index < len(points) and points[index] < high else None

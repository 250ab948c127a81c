"""Snippets: the part of a passage worth showing for a query, with the query's words marked.

The words are found by the BM25 analyzer (`indexer.lexical.matching_spans`), so a word is
highlighted exactly when BM25 would match it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexical import matching_spans

SNIPPET_CHARS = 280
ELLIPSIS = "…"


@dataclass
class Snippet:
    text: str
    highlights: list[tuple[int, int]]  # character spans of `text` that match query terms

    def parts(self) -> list[tuple[str, bool]]:
        """The snippet as (text, highlighted) pieces, for templates that escape each piece."""
        pieces, position = [], 0
        for start, end in self.highlights:
            pieces += [(self.text[position:start], False), (self.text[start:end], True)]
            position = end
        pieces.append((self.text[position:], False))
        return [p for p in pieces if p[0]]


def make_snippet(text: str, query_terms: set[str], width: int = SNIPPET_CHARS) -> Snippet:
    """The `width` characters of `text` that hold the most query terms, cut at word boundaries, with
    those terms' spans; the start of the text where no term occurs."""
    matches = matching_spans(text, query_terms)
    start = 0
    if matches and len(text) > width:
        starts = np.array([s for s, _ in matches])
        counts = [np.count_nonzero((starts >= s - width // 4) & (starts < s - width // 4 + width)) for s in starts]
        start = max(0, int(starts[int(np.argmax(counts))]) - width // 4)
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start, end)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    shift = len(prefix) - start
    highlights = [(s + shift, e + shift) for s, e in matches if s >= start and e <= end]
    return Snippet(prefix + text[start:end] + suffix, highlights)

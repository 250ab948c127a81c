"""Why a document came back for a query: its passage's words aligned with the query's words, through
the contextual token vectors of the BERT whose pooled vectors the dense search ranks by.

The passage is the one the dense search ranks the document by: its chunk whose stored vector is
nearest the query's (what FAISS finds for the exact "flat" index; an approximate index may, rarely,
have stood for the document by a near runner-up). It is encoded as it was indexed, title first
(`encoder.passage_text`), so its words have the context that made the chunk's vector; the score is
that same cosine, query vector · stored chunk vector. Word pieces are merged into words (the mean of
their vectors, renormalised); punctuation and stop words are left out on both sides, since "the"
matching "the" says nothing about why a passage was chosen.

Cost is bounded by length: two forward passes of at most the model's max_length tokens (the query
and the passage, truncated as `Encoder.encode` truncates them) and a words × words matrix product.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from encoder import TokenVectors, passage_text

from .search_index import SearchIndex
from .stopwords import STOPWORDS_EN
from .store import StoredDocument
from .store_reads import Passage

MATCHES_PER_WORD = 3  # passage words listed for each query word
SHADES = 4  # levels of shading a passage word can take, besides none


@dataclass(frozen=True)
class Word:
    text: str
    start: int  # [start, end) in its text: the query, or the encoded passage text
    end: int

    def as_json(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end}


@dataclass
class Explanation:
    """The alignment of one (query, passage) pair.

    `similarity` holds the raw cosines of query words (rows) and passage words (columns). How high a
    cosine is for unrelated words depends on the model: contextual vectors are anisotropic, crowded
    into a narrow cone, more so for some models and layers than others (Ethayarajh 2019), so a raw
    cosine shades alike words that do and do not match. `strength` rescales each cosine against this
    pair's own baseline, the median of its cosines (most query-word/passage-word pairs are unrelated),
    as BERTScore rescales against a baseline of unrelated text: (cosine - baseline) / (1 - baseline),
    clipped to [0, 1], so 0 is "no closer than a typical pair" and 1 an identical vector, whatever
    the model's cone. The median, not the mean, so that the few strong matches do not raise it; the
    pair's own, not a constant, since no calibration data ships with a model. With the shipped model,
    over 60 (query, top-5 passage) pairs of the demo corpus, the baseline was 0.03 to 0.15, the same
    word on both sides reached a strength of 0.84 (median), a query word's best other word 0.24
    (median; 0.42 at the 90th percentile), and 12% of passage words reached 0.2, where shading starts
    (`shade`)."""

    query: str
    passage: Passage
    text: str  # what was encoded: the title, a newline, the passage (the passage alone without a title)
    score: float  # query vector · the chunk's stored vector: the cosine the dense search ranks by
    query_words: list[Word]
    passage_words: list[Word]
    similarity: np.ndarray  # (query words, passage words) raw cosines
    baseline: float
    strength: np.ndarray  # `similarity` rescaled against `baseline`, in [0, 1]
    truncated: bool  # the passage or the query was longer than the model reads; the rest was not aligned
    took_ms: float

    @property
    def passage_start(self) -> int:
        """Where the passage begins in `text`."""
        return len(self.text) - len(self.passage.text)

    def word_strengths(self) -> np.ndarray:
        """Each passage word's best strength against any query word: how strongly to shade it."""
        strength = self.strength
        return strength.max(axis=0) if strength.size else np.zeros(len(self.passage_words))

    def matches(self, row: int, k: int = MATCHES_PER_WORD) -> list[tuple[int, float, float]]:
        """Query word `row`'s `k` best passage words: (position in `passage_words`, cosine, strength), best first."""
        order = np.argsort(-self.similarity[row], kind="stable")[:k]
        return [(j, float(self.similarity[row, j]), float(self.strength[row, j])) for j in order.tolist()]

    def rows(self, k: int = MATCHES_PER_WORD) -> list[tuple[Word, list[tuple[Word, float, int]]]]:
        """Each query word with its `k` closest passage words, (word, cosine, shade): a template's table."""
        return [(word, [(self.passage_words[j], cosine, shade(strength)) for j, cosine, strength in self.matches(row, k)])
                for row, word in enumerate(self.query_words)]

    def parts(self) -> list[tuple[str, int]]:
        """`text` as (piece, shade) pieces, shade 0 (none) to SHADES, for templates that escape each piece."""
        pieces, position = [], 0
        for word, strength in zip(self.passage_words, self.word_strengths().tolist()):
            pieces += [(self.text[position:word.start], 0), (self.text[word.start:word.end], shade(strength))]
            position = word.end
        pieces.append((self.text[position:], 0))
        return [piece for piece in pieces if piece[0]]

    def as_json(self, k: int = MATCHES_PER_WORD) -> dict:
        strengths = self.word_strengths().tolist()
        return {"query": self.query, "id": self.passage.external_id, "collection": self.passage.collection,
                "title": self.passage.title, "score": round(self.score, 6), "passage": list(self.passage.span),
                "text": self.text, "passage_start": self.passage_start, "baseline": round(self.baseline, 6),
                "truncated": self.truncated, "took_ms": round(self.took_ms, 2),
                "query_words": [word.as_json() | {"matches": [{"word": j, "similarity": round(cosine, 6), "strength": round(strength, 6),
                                                               "shade": shade(strength)}
                                                              for j, cosine, strength in self.matches(row, k)]}
                                for row, word in enumerate(self.query_words)],
                "passage_words": [word.as_json() | {"strength": round(strength, 6), "shade": shade(strength)}
                                  for word, strength in zip(self.passage_words, strengths)]}


def rescale(similarity: np.ndarray, baseline: float) -> np.ndarray:
    """Cosines as strengths: 0 at `baseline` or below, 1 at an identical vector (see `Explanation`)."""
    if baseline >= 1.0:
        return np.zeros_like(similarity)
    return np.clip((similarity - baseline) / (1.0 - baseline), 0.0, 1.0)


def shade(strength: float) -> int:
    """A strength as a shading level: 0 (none) below 1 / (SHADES + 1), then one level per as much
    again, so that only the words clearly closer than a typical pair are marked (see `Explanation`)."""
    return min(SHADES, int(strength * (SHADES + 1)))


def explain(index: SearchIndex, document: StoredDocument, query: str) -> Explanation | None:
    """The alignment of `query` with the passage the dense search ranks `document` by; None for a
    document without any passage (a store mid-repair)."""
    started = time.perf_counter()
    encoder = index.encoder
    query_tokens = encoder.token_vectors(query)
    chunk_ids, vectors = index.store.document_vectors(document.key)
    if not len(chunk_ids):
        return None
    scores = vectors @ query_tokens.sentence
    best = int(np.argmax(scores))
    passage = index.store.passages([int(chunk_ids[best])]).get(int(chunk_ids[best]))
    if passage is None:  # deleted between the two reads
        return None
    text = passage_text(passage.title, passage.text)
    passage_tokens = encoder.token_vectors(text)
    query_words, query_vectors = content_words(query, query_tokens)
    passage_words, passage_vectors = content_words(text, passage_tokens)
    similarity = query_vectors @ passage_vectors.T
    baseline = float(np.median(similarity)) if similarity.size else 0.0
    return Explanation(query, passage, text, float(scores[best]), query_words, passage_words, similarity, baseline,
                       rescale(similarity, baseline), query_tokens.truncated or passage_tokens.truncated, (time.perf_counter() - started) * 1000)


def content_words(text: str, tokens: TokenVectors) -> tuple[list[Word], np.ndarray]:
    """The words of `text` worth aligning and their vectors (their pieces' mean, renormalised): words
    with a letter or digit that are not stop words; all words with one, where every word is a stop word."""
    if not len(tokens.words):
        return [], np.zeros((0, tokens.vectors.shape[1]), np.float32)
    starts = np.flatnonzero(np.r_[True, np.diff(tokens.words) != 0])
    ends = np.r_[starts[1:], len(tokens.words)]
    words = [Word(text[tokens.offsets[s, 0]:tokens.offsets[e - 1, 1]], int(tokens.offsets[s, 0]), int(tokens.offsets[e - 1, 1]))
             for s, e in zip(starts.tolist(), ends.tolist())]
    sums = np.add.reduceat(tokens.vectors, starts, axis=0)
    vectors = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    wordlike = [any(c.isalnum() for c in word.text) for word in words]
    keep = [like and word.text.lower() not in STOPWORDS_EN for word, like in zip(words, wordlike)]
    if not any(keep):
        keep = wordlike
    return [word for word, kept in zip(words, keep) if kept], vectors[np.array(keep, dtype=bool)]

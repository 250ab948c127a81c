"""Distant supervision for the dense model: BM25 finds the passages that training pairs lack.

DPR's recipe (Karpukhin et al., 2020): for a question that has only answer strings, the highest-ranked
of BM25's top paragraphs that contains an answer is its positive, and the highest-ranked one that does
not is its hard negative, a passage that shares the question's words but does not answer it. The same
BM25 gives the question-to-passage sets hard negatives from their own passages. The lexical index is
`indexer.lexical.LexicalIndex`, the one search uses, so "relevant to BM25" means the same here as there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from encoder.training import Pair

from .lexical import LexicalIndex, terms

# Paragraphs shorter than this are headings, captions or list debris: no use as a positive.
MIN_PARAGRAPH_WORDS = 20
# Share of the question's terms a mined positive must contain. On a slice of Wikipedia the article that
# answers a question is usually absent, and a short answer ("1988", "four") then turns up by chance in a
# paragraph about something else; a paragraph that also holds most of the question's words is far more
# often about the question.
MIN_TERM_OVERLAP = 0.5


@dataclass
class MiningConfig:
    """How deep BM25 looks for a question's positive and negative."""

    top_k: int = 20
    min_paragraph_words: int = MIN_PARAGRAPH_WORDS
    min_term_overlap: float = MIN_TERM_OVERLAP


class ParagraphIndex:
    """Paragraphs and their BM25 index; a paragraph's position in `texts` is its id in the index."""

    def __init__(self, paragraphs: Iterable[str], min_words: int = MIN_PARAGRAPH_WORDS) -> None:
        self.texts = [p for p in dict.fromkeys(paragraphs) if len(p.split()) >= min_words]
        self.lexical = LexicalIndex.build(enumerate(self.texts))

    def search(self, query: str, k: int) -> list[str]:
        ids, _ = self.lexical.search(query, k)
        return [self.texts[i] for i in ids]


def answer_pattern(answers: Sequence[str], regex: bool = False) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any answer as whole words, whitespace-insensitive (or, for
    sets whose answers are regular expressions, any of those); None when no answer is usable."""
    if regex:
        alternatives = [a for a in answers if _compiles(a)]
    else:
        alternatives = [r"\s+".join(map(re.escape, a.split())) for a in answers if a.split()]
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def mine_answers(
    index: ParagraphIndex, questions: Iterable[tuple[str, Sequence[str]]], source: str,
    config: MiningConfig = MiningConfig(), regex: bool = False,
) -> Iterator[Pair]:
    """A pair for each question with an answer-bearing paragraph among BM25's top `top_k`: the first
    such paragraph is the positive, the first one without an answer the hard negative (None when every
    paragraph holds one). The positive must also hold `min_term_overlap` of the question's terms."""
    for question, answers in questions:
        pattern = answer_pattern(answers, regex)
        if pattern is None:
            continue
        ranked = index.search(question, config.top_k)
        positive = next((p for p in ranked if pattern.search(p)), None)
        if positive is not None and term_overlap(question, positive) >= config.min_term_overlap:
            yield Pair(question, positive, source, next((p for p in ranked if not pattern.search(p)), None))


def with_bm25_negatives(pairs: Sequence[Pair], config: MiningConfig = MiningConfig(), count: int = 1) -> Iterator[Pair]:
    """The pairs of one question-to-passage set, each given (when it has none) the highest-ranked of
    the set's other passages for its query as hard negative. A passage that is a positive of the same
    query is never its negative; all passages count, however short, since they are the set's own.

    With `count` above 1 (a reranker's groups), a pair comes out once per negative, its `count`
    highest-ranked non-positives in BM25's order, so the pairs file carries the groups unchanged in form."""
    positives_of: dict[str, set[str]] = {}
    for pair in pairs:
        positives_of.setdefault(pair.query, set()).add(pair.positive)
    index = ParagraphIndex((p.positive for p in pairs), min_words=0)
    for pair in pairs:
        if pair.negative is not None and count == 1:
            yield pair
            continue
        ranked = index.search(pair.query, max(config.top_k, count + len(positives_of[pair.query])))
        negatives = [p for p in ranked if p not in positives_of[pair.query]][:count]
        for negative in negatives or [None]:
            yield Pair(pair.query, pair.positive, pair.source, negative)


def term_overlap(question: str, paragraph: str) -> float:
    """The share of the question's distinct BM25 terms that occur in the paragraph (0 for no terms)."""
    wanted = set(terms(question))
    return len(wanted & set(terms(paragraph))) / len(wanted) if wanted else 0.0


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True

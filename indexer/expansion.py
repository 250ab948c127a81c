"""Query expansion by pseudo-relevance feedback (RM3): BM25's own top texts lend the query their words.

A short query names a topic in a few words; the documents about it use many more, and the relevant
ones that happen not to repeat the query's exact words are out of BM25's reach. RM3 (Abdul-Jaleel et
al., TREC 2004; Lavrenko and Croft's relevance model) assumes the first search's top texts are about
the topic, builds a distribution of their terms, each text's term frequencies weighted by its
retrieval score, and searches again with the query's own terms (`original_weight` of the mass) plus
that distribution's heaviest terms. It is what Anserini offers beside BM25; here it measured ahead of
plain BM25 on the dev queries of both collections we hold (docs/benchmarks.md, "Query expansion"),
in lexical and hybrid searches alike; hybrid searches expand unless asked not to (`expands`).

Feedback is read from the texts' stored words (re-analysed: the BM25 index keeps weights, not term
counts), capped at `FEEDBACK_CHARS` characters each, so a very long document costs no more to read
than a long abstract; a prefix of that length estimates its term distribution well enough.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .lexical import LexicalIndex, terms

FEEDBACK_CHARS = 10_000  # of each feedback text read and analysed
# When a search that does not say expands its query (the `QUERY_EXPANSION` setting): in hybrid searches
# only, by default. Hybrid is the mode for the best ranking, and its dense list already brings documents
# without the query's words; a lexical search stays a keyword search (every result has a query word,
# `total` counts those documents) unless it asks (`expand=true`), though expansion ranked better there too.
EXPANSION_SETTINGS = ("hybrid", "always", "never")
DEFAULT_QUERY_EXPANSION = "hybrid"


@dataclass(frozen=True)
class ExpansionConfig:
    """How a query is expanded; the defaults were chosen on dev queries (bench/tune_expansion.py)."""

    documents: int = 10  # top texts of the first search that give feedback
    terms: int = 20  # heaviest feedback terms added to the query
    original_weight: float = 0.8  # the query's own terms' share of the expanded query's weight

    def __post_init__(self) -> None:
        if self.documents < 1 or self.terms < 0 or not 0.0 < self.original_weight <= 1.0:
            raise ValueError(f"an expansion needs documents >= 1, terms >= 0 and an original weight in (0, 1], not {self}")


DEFAULT_EXPANSION = ExpansionConfig()


def expands(setting: str, mode: str) -> bool:
    """Whether a `mode` search expands its query under the `QUERY_EXPANSION` setting (`EXPANSION_SETTINGS`)."""
    if setting not in EXPANSION_SETTINGS:
        raise ValueError(f"unknown query expansion setting {setting!r}; expected one of {', '.join(EXPANSION_SETTINGS)}")
    return setting == "always" or (setting == "hybrid" and mode == "hybrid")


def expanded_weights(query_terms: Sequence[str], feedback: Sequence[tuple[float, Sequence[str]]],
                     config: ExpansionConfig = DEFAULT_EXPANSION) -> dict[str, float]:
    """RM3: `feedback` holds (first-search score, analysed terms) of each top text, best first. Each
    text's terms count by their frequency in it (so a long text does not outweigh a short one) times
    its share of the feedback scores; the `config.terms` heaviest make the relevance model, which
    takes 1 - original_weight of the weight, the query's own distinct terms the rest, in equal parts.
    The weights are then scaled so that each query term weighs 1, as unexpanded: an expanded score
    reads as the query's BM25 plus what the feedback terms add, and ranks as RM3 says. Without usable
    feedback (no text, or no positive score) the query is left as it is."""
    original = dict.fromkeys(query_terms, 1.0)  # the query as `LexicalIndex.search` weighs it
    texts = [(score, Counter(words)) for score, words in feedback[:config.documents] if score > 0 and words]
    total_score = sum(score for score, _ in texts)
    if not original or not texts or config.terms == 0 or config.original_weight == 1.0:
        return original
    relevance: Counter[str] = Counter()
    for score, counts in texts:
        length = sum(counts.values())
        for term, count in counts.items():
            relevance[term] += (score / total_score) * count / length
    kept = dict(relevance.most_common(config.terms))
    kept_mass = sum(kept.values())
    per_query_term = config.original_weight / len(original)
    weights = dict(original)
    for term, mass in kept.items():
        weights[term] = weights.get(term, 0.0) + (1.0 - config.original_weight) * mass / kept_mass / per_query_term
    return weights


def query_scores(lexical: LexicalIndex, query: str, expansion: ExpansionConfig | None,
                 texts_of: Callable[[np.ndarray], dict[int, str]]) -> np.ndarray:
    """Every text's BM25 in `lexical` for the query's terms, each weighing 1, plus, with `expansion`, the
    feedback terms that `lexical`'s top texts give (`texts_of(ids)`: their texts by id, cut to
    FEEDBACK_CHARS): the first pass's scores are the expanded ones' base, so the query's own postings are
    read once. The search service reads the feedback texts from its store; an evaluation without an
    instance (`indexer.evaluation.document_bm25_rankings`), from the collection in memory."""
    original = dict.fromkeys(terms(query), 1.0)
    scores = lexical.scores(original)
    if expansion is None:
        return scores
    ids, first = lexical.top(scores, expansion.documents)
    texts = texts_of(ids)
    feedback = [(score, terms(texts[i])) for i, score in zip(ids.tolist(), first.tolist()) if i in texts]
    expanded = expanded_weights(list(original), feedback, expansion)
    return scores + lexical.scores({term: weight - original.get(term, 0.0) for term, weight in expanded.items()})

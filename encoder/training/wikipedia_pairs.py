"""Self-supervised pairs from Wikipedia articles, for the topics the labelled sets never touch."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from itertools import chain, islice

from ..sentences import split_sentences
from .corpus import Document
from .pair_sets import SPANS_PREFIX
from .pairs import Pair

# Shorter Wikipedia anchors or positives ("He died.", "See below.") carry too little meaning to be worth
# pulling together.
MIN_WIKIPEDIA_WORDS = 5
# Spans short enough to read like queries: the span length `adapt` chose on NFCorpus dev (4–32 words
# beat 8–64 by 1.9 nDCG@10 in six-minute pilots).
QUERY_LIKE_SPAN_WORDS = (4, 32)
# The other side of an adaptation pair, nearer a passage's length: 16–64 words beat 4–32 on SciFact's
# train claims by 5.0 nDCG@10 in 20-minute runs, level on NFCorpus dev (docs/benchmarks.md).
PASSAGE_LIKE_SPAN_WORDS = (16, 64)


def wikipedia_pairs(documents: Iterable[Document], max_pairs: int, seed: int = 0) -> Iterator[Pair]:
    """Self-supervised pairs that cover the topics the labelled sets never touch: an article's title to
    its opening paragraph, and one random sentence to the rest of its paragraph. One sentence pair per
    article spreads `max_pairs` over many articles instead of spending it on the first few long ones;
    `documents` is read lazily, only as far as `max_pairs` needs."""
    rng = random.Random(seed)
    return islice(chain.from_iterable(_article_pairs(document, rng) for document in documents), max_pairs)


def wikipedia_span_pairs(documents: Iterable[Document], max_pairs: int, seed: int = 0, span_words: tuple[int, int] = (8, 64),
                         source: str = "wikipedia", positive_words: tuple[int, int] | None = None) -> Iterator[Pair]:
    """Contrastive pre-fine-tuning pairs with no labels at all (Contriever's independent cropping, E5's
    title-passage pairs): two spans drawn independently from one article, which share its topic but not
    always its words, and the title to a random paragraph. Sources "wikipedia:span" and
    "wikipedia:title", so the prefix "wikipedia" selects them with `wikipedia_pairs`'s; an instance's
    own documents (`adapt`) are any collection's articles, named by `source`. `positive_words` sizes the
    second span apart from the first (a query-long span to a passage-long one); None: as `span_words`."""
    rng = random.Random(seed)
    return islice(chain.from_iterable(_span_pairs(document, rng, span_words, source, positive_words or span_words)
                                      for document in documents), max_pairs)


def span_pair_rounds(documents: list[Document], rounds: int, seed: int, span_words: tuple[int, int], source: str,
                     positive_words: tuple[int, int] | None = None) -> list[Pair]:
    """`rounds` draws of `wikipedia_span_pairs` over a small collection, each with fresh spans: how a few
    thousand documents give enough pairs for a contrastive run (`adapt`, the recipe's passage spans)."""
    return [pair for round_ in range(rounds)
            for pair in wikipedia_span_pairs(documents, len(documents) * 2, seed + round_, span_words, source, positive_words)]


def passage_span_pairs(pairs: list[Pair], sources: tuple[str, ...], rounds: int, seed: int, span_words: tuple[int, int]) -> list[Pair]:
    """Span pairs with no labels, cut from the distinct passages (positives) of the named pair sources,
    source "spans:<name>:span": the collection-level objective of `adapt`, applied while training the
    model to text of the domain the labelled pairs come from (medical answers, abstracts)."""
    found = []
    for source in sources:
        passages = dict.fromkeys(p.positive for p in pairs if p.source == source)
        documents = [Document("", [text]) for text in passages]
        found += span_pair_rounds(documents, rounds, seed, span_words, f"{SPANS_PREFIX}{source}")
    return found


def _article_pairs(document: Document, rng: random.Random) -> Iterator[Pair]:
    """At most two pairs from one article: title to opening paragraph, and one sentence to the rest of
    its paragraph, each only when both sides are long enough to mean something."""
    if document.title and document.paragraphs and _long_enough(document.paragraphs[0]):
        yield Pair(document.title, document.paragraphs[0], "wikipedia")
    candidates = [
        (sentence, rest)
        for paragraph in document.paragraphs
        for sentence, rest in _sentence_and_rest(paragraph)
        if _long_enough(sentence) and _long_enough(rest)
    ]
    if candidates:
        sentence, rest = rng.choice(candidates)
        yield Pair(sentence, rest, "wikipedia")


def _span_pairs(document: Document, rng: random.Random, span_words: tuple[int, int], source: str,
                positive_words: tuple[int, int]) -> Iterator[Pair]:
    """Two random word spans of one article (of `span_words` and `positive_words` words, each at most half
    the article, so a short article still gives a pair, with a shorter positive), and its title to one
    random paragraph."""
    words = document.text.split()
    if len(words) >= 2 * span_words[0]:
        spans = []
        for shortest, longest in (span_words, positive_words):
            most = min(longest, len(words) // 2)
            length = rng.randint(min(shortest, most), most)
            start = rng.randint(0, len(words) - length)
            spans.append(" ".join(words[start:start + length]))
        yield Pair(spans[0], spans[1], f"{source}:span")
    paragraph = rng.choice(document.paragraphs)
    if document.title and _long_enough(paragraph):
        yield Pair(document.title, paragraph, f"{source}:title")


def _sentence_and_rest(paragraph: str) -> Iterator[tuple[str, str]]:
    """Each sentence of a paragraph with the paragraph's other sentences, in order, as its context."""
    sentences = split_sentences(paragraph)
    for i, sentence in enumerate(sentences):
        yield sentence.strip(), " ".join(s.strip() for s in sentences[:i] + sentences[i + 1 :])


def _long_enough(text: str) -> bool:
    return len(text.split()) >= MIN_WIKIPEDIA_WORDS

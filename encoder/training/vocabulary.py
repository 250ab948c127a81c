"""Learning a WordPiece vocabulary from corpus files: what the `train-tokenizer` command and the GPU
pipeline both run, so that the two make the same tokenizer from the same flags."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..flags import setting
from ..tokenizer import TextTokenizer, train_wordpiece
from .corpus import read_corpus

# BERT's usual limit, for the tokenizer in memory: tokenizer.json is saved without any (`TextTokenizer.save`).
TOKENIZER_MAX_LENGTH = 512


@dataclass
class TokenizerConfig:
    """The sample a vocabulary is learnt from, and its size."""

    vocab_size: int = setting(16384, "word pieces in the vocabulary")
    max_docs: int = setting(20000, "documents sampled from the start of the corpus")
    cased: bool = setting(False, "keep case and accents (default: lower-case)")


def train_tokenizer(corpus: Iterable[str | Path], config: TokenizerConfig) -> TextTokenizer:
    """A WordPiece tokenizer learnt from the paragraphs of the first `max_docs` documents of the files."""
    documents = itertools.islice(read_corpus(corpus), config.max_docs)
    texts = (paragraph for document in documents for paragraph in document.paragraphs)
    return TextTokenizer(train_wordpiece(texts, config.vocab_size, lowercase=not config.cased), max_length=TOKENIZER_MAX_LENGTH)

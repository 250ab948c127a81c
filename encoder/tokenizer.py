"""WordPiece tokenisation through HF `tokenizers`, with the padding and truncation always set by us.

A checkpoint's tokenizer.json may come from elsewhere with its own padding/truncation baked in
(all-MiniLM-L6-v2's fixes both at 128); we clear them on load so that the encoder alone decides the
length: truncation to the model's max length, padding only to the longest sequence of each batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Encoding, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)


@dataclass
class TokenBatch:
    """A padded batch ready for the model; every tensor is (batch, longest length in this batch)."""

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    attention_mask: torch.Tensor

    def to(self, device: torch.device | str) -> "TokenBatch":
        return TokenBatch(*(t.to(device, non_blocking=True) for t in (self.input_ids, self.token_type_ids, self.attention_mask)))


def _bert_pipeline(tokenizer: Tokenizer, lowercase: bool) -> Tokenizer:
    """Attach BERT's normaliser, pre-tokeniser and decoder to a WordPiece tokenizer."""
    # strip_accents=None follows `lowercase`, as in the original BERT (uncased models drop accents).
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return tokenizer


def _bert_template(tokenizer: Tokenizer) -> processors.TemplateProcessing:
    """`[CLS] A [SEP]` for one text, `[CLS] A [SEP] B [SEP]` with segment ids 0…0 1…1 for a pair."""
    return processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, tokenizer.token_to_id(CLS)), (SEP, tokenizer.token_to_id(SEP))],
    )


def wordpiece_from_vocab(vocab: Sequence[str], lowercase: bool = True) -> Tokenizer:
    """A BERT WordPiece tokenizer over a given vocabulary (e.g. the lines of a vocab.txt)."""
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab)}, unk_token=UNK))
    _bert_pipeline(tokenizer, lowercase)
    tokenizer.post_processor = _bert_template(tokenizer)
    return tokenizer


def train_wordpiece(texts: Iterable[str], vocab_size: int, lowercase: bool = True, min_frequency: int = 2) -> Tokenizer:
    """Learn a WordPiece vocabulary from a stream of texts; the special tokens take ids 0-4."""
    tokenizer = _bert_pipeline(Tokenizer(models.WordPiece(unk_token=UNK)), lowercase)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS), show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = _bert_template(tokenizer)
    return tokenizer


class TextTokenizer:
    """BERT tokenisation with our own truncation and per-batch padding."""

    def __init__(self, tokenizer: Tokenizer, max_length: int) -> None:
        missing = [token for token in SPECIAL_TOKENS if tokenizer.token_to_id(token) is None]
        if missing:
            raise ValueError(f"tokenizer lacks the special tokens {', '.join(missing)}")
        self.tokenizer = tokenizer
        self._untruncated: Tokenizer | None = None
        self.tokenizer.no_padding()
        self.set_max_length(max_length)
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            tokenizer.token_to_id(token) for token in SPECIAL_TOKENS
        )

    @classmethod
    def from_file(cls, path: str | Path, max_length: int) -> "TextTokenizer":
        return cls(Tokenizer.from_file(str(path)), max_length)

    def save(self, path: str | Path) -> None:
        """Write tokenizer.json without padding or truncation, so the file carries no length policy."""
        self.tokenizer.no_truncation()
        try:
            self.tokenizer.save(str(path))
        finally:
            self.set_max_length(self.max_length)

    def set_max_length(self, max_length: int) -> None:
        self._truncate_to(max_length)
        self.max_length = max_length

    def _truncate_to(self, max_length: int) -> None:
        if max_length < 2:
            raise ValueError(f"max_length must leave room for [CLS] and [SEP], got {max_length}")
        self.tokenizer.enable_truncation(max_length, strategy="longest_first")

    def identity(self) -> int:
        """A hash of what decides the ids a text gets (vocabulary, normaliser, pre-tokeniser), not of the
        length policy: two copies of one tokenizer at different lengths tokenise alike below both."""
        settings = json.loads(self.tokenizer.to_str())
        settings.pop("truncation", None)
        settings.pop("padding", None)
        return hash(json.dumps(settings, sort_keys=True))

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, texts: Sequence[str], pairs: Sequence[str] | None = None, max_length: int | None = None) -> list[Encoding]:
        """Tokenise without padding (all cores, inside the Rust library); pairs give segment B.
        `max_length` truncates this call alone: training tokenises to widths of its own, and a
        tokenizer a caller lends it must come back with the length it had."""
        inputs = list(texts) if pairs is None else list(zip(texts, pairs))
        if max_length is None or max_length == self.max_length:
            return self.tokenizer.encode_batch(inputs, add_special_tokens=True)
        self._truncate_to(max_length)
        try:
            return self.tokenizer.encode_batch(inputs, add_special_tokens=True)
        finally:
            self._truncate_to(self.max_length)

    def pad(self, encodings: Sequence[Encoding]) -> TokenBatch:
        """Pad a batch to its own longest sequence, not to max_length."""
        longest = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), longest), self.pad_id, dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n] = e.ids
            types[row, :n] = e.type_ids
            mask[row, :n] = 1
        return TokenBatch(torch.from_numpy(ids), torch.from_numpy(types), torch.from_numpy(mask))

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character spans of every word piece of each text, untruncated and without special tokens:
        what a chunker needs to cut long documents into passages that fit max_length."""
        if self._untruncated is None:
            self._untruncated = Tokenizer.from_str(self.tokenizer.to_str())
            self._untruncated.no_truncation()
            self._untruncated.no_padding()
        return [e.offsets for e in self._untruncated.encode_batch(list(texts), add_special_tokens=False)]

    def tokens(self, text: str, pair: str | None = None) -> list[str]:
        """The word pieces of one input, special tokens included (for inspection and tests)."""
        return self.tokenizer.encode(text, pair).tokens

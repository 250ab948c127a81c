"""Training pairs as token-id tables: every distinct text tokenised once, before the clock starts, into
padded id matrices (one for queries, one for passages: positives and hard negatives) that move to the
device once, so that a step only indexes them there."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..tokenizer import TextTokenizer
from .pairs import Pair

CHARS_PER_TOKEN_CLIP = 16
ENCODE_SLICE = 20_000  # texts per tokenizer call: its Encodings (offsets, token strings) took GBs for a million texts at once
TokenCache = dict[tuple[int, int], dict[str, np.ndarray]]  # (tokenizer, width) -> text -> token ids


@dataclass
class TokenTable:
    """Distinct texts tokenised once: ids (n, width) padded with [PAD], and each text's length."""

    ids: torch.Tensor
    lengths: torch.Tensor

    def to(self, device: torch.device) -> "TokenTable":
        return TokenTable(self.ids.to(device), self.lengths.to(device))


def token_table(tokenizer: TextTokenizer, texts: list[str], width: int, cache: TokenCache | None = None) -> TokenTable:
    """Distinct texts as a padded id table. The texts not in `cache` go to the Rust tokenizer in batch calls
    of ENCODE_SLICE (each uses every core), truncated to `width`; a recipe's stages share one cache, since
    they share most of their texts.

    Texts are first cut to CHARS_PER_TOKEN_CLIP characters per token of `width`: a word piece is about
    five characters, so the cut falls past the truncation point, and tokenising a whole Wikipedia
    paragraph to keep its first 128 tokens would cost several times the work."""
    known = {} if cache is None else cache.setdefault((tokenizer.identity(), width), {})
    missing = [text for text in texts if text not in known]
    for start in range(0, len(missing), ENCODE_SLICE):
        part = missing[start:start + ENCODE_SLICE]
        for text, encoding in zip(part, tokenizer.encode([text[: width * CHARS_PER_TOKEN_CLIP] for text in part], max_length=width)):
            known[text] = np.asarray(encoding.ids, dtype=np.int32)  # int32 halves the device copy
    ids = np.full((len(texts), width), tokenizer.pad_id, dtype=np.int32)
    lengths = np.empty(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        lengths[row] = len(known[text])
        ids[row, : lengths[row]] = known[text]
    return TokenTable(torch.from_numpy(ids), torch.from_numpy(lengths))


@dataclass
class PairTensors:
    """The training pairs as indices into two token tables: queries, and passages (positives and hard
    negatives share one table, as they share one width). `negatives[i]` is -1 when pair i has none."""

    queries: TokenTable
    passages: TokenTable
    query_rows: torch.Tensor
    positive_rows: torch.Tensor
    negative_rows: torch.Tensor

    def __len__(self) -> int:
        return len(self.query_rows)

    def to(self, device: torch.device) -> "PairTensors":
        return PairTensors(self.queries.to(device), self.passages.to(device),
                           *(t.to(device) for t in (self.query_rows, self.positive_rows, self.negative_rows)))


def tokenize_pairs(tokenizer: TextTokenizer, pairs: list[Pair], query_length: int, passage_length: int, hard_negatives: bool,
                   cache: TokenCache | None = None) -> PairTensors:
    """Tokenise every distinct text once (labelled sets repeat an abstract or an answer across pairs)."""
    query_index: dict[str, int] = {}
    passage_index: dict[str, int] = {}
    query_rows = [query_index.setdefault(p.query, len(query_index)) for p in pairs]
    positive_rows = [passage_index.setdefault(p.positive, len(passage_index)) for p in pairs]
    negative_rows = [passage_index.setdefault(p.negative, len(passage_index)) if hard_negatives and p.negative else -1 for p in pairs]
    return PairTensors(token_table(tokenizer, list(query_index), query_length, cache),
                       token_table(tokenizer, list(passage_index), passage_length, cache),
                       torch.tensor(query_rows), torch.tensor(positive_rows), torch.tensor(negative_rows))


def negative_slots(data: PairTensors, batch_size: int) -> int:
    """How many hard negatives a batch carries: a fixed number, so that shapes stay static, sized a
    quarter above the expected count (the pairs with a negative rarely exceed it) and rounded to 8."""
    share = float((data.negative_rows >= 0).float().mean())
    if share == 0:
        return 0
    return min(batch_size, 8 * math.ceil(batch_size * share * 1.25 / 8))

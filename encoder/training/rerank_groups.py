"""A reranker's training data: each query with its positive and its hard negatives, as one group, and the
groups as pre-tokenised `[CLS] query [SEP] passage [SEP]` inputs of one fixed width.

A pairs file (`pairs.write_pairs`) holds a group as one line per negative (the mining script writes
them so); `group_pairs` joins them back. Every group gets the same number of negatives, so a batch is
always (groups, 1 + negatives) inputs: a group that was mined short is topped up with other groups'
positives, easy negatives, which is what in-batch negatives would give anyway.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ..tokenizer import TextTokenizer
from .pair_tensors import CHARS_PER_TOKEN_CLIP
from .pairs import Pair


@dataclass(frozen=True)
class Group:
    """One query, the passage that answers it, and passages that look as if they might (best first)."""

    query: str
    positive: str
    negatives: tuple[str, ...]
    source: str


def group_pairs(pairs: Iterable[Pair]) -> list[Group]:
    """The pairs of each (query, positive), in order of first appearance, joined into one group whose
    negatives keep the file's order (BM25's, for mined ones); repeats and the positive itself are dropped."""
    negatives: dict[tuple[str, str], list[str]] = {}
    sources: dict[tuple[str, str], str] = {}
    for pair in pairs:
        key = (pair.query, pair.positive)
        found = negatives.setdefault(key, [])
        sources.setdefault(key, pair.source)
        if pair.negative and pair.negative != pair.positive and pair.negative not in found:
            found.append(pair.negative)
    return [Group(query, positive, tuple(found), sources[query, positive]) for (query, positive), found in negatives.items()]


@dataclass
class GroupTensors:
    """The groups' inputs: ids and segment ids (groups, 1 + negatives, width), padded with [PAD], the
    positive in slot 0; and each input's length in tokens."""

    ids: torch.Tensor
    type_ids: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def group_size(self) -> int:
        return self.ids.shape[1]

    def to(self, device: torch.device) -> "GroupTensors":
        return GroupTensors(self.ids.to(device), self.type_ids.to(device), self.lengths.to(device))


def tokenize_groups(tokenizer: TextTokenizer, groups: list[Group], negatives: int, width: int, seed: int = 0) -> GroupTensors:
    """Every (query, passage) input of every group tokenised once, in one batch call to the Rust
    tokenizer, truncated to `width` from the longer side (the passage), as `CrossEncoder.score` does.
    Groups with fewer than `negatives` hard negatives are topped up with random other positives."""
    pool = list(dict.fromkeys(group.positive for group in groups))
    if len(pool) <= negatives:
        raise ValueError(f"{len(pool)} distinct passages cannot give every group {negatives} negatives besides its positive")
    rng = random.Random(seed)
    queries, passages = [], []
    for group in groups:
        chosen = list(group.negatives[:negatives])
        while len(chosen) < negatives:
            other = rng.choice(pool)
            if other != group.positive and other not in chosen:
                chosen.append(other)
        queries += [group.query] * (1 + negatives)
        passages += [group.positive[: width * CHARS_PER_TOKEN_CLIP]] + [text[: width * CHARS_PER_TOKEN_CLIP] for text in chosen]
    encodings = tokenizer.encode(queries, passages, max_length=width)
    ids = np.full((len(encodings), width), tokenizer.pad_id, dtype=np.int32)  # int32 halves the device copy
    type_ids = np.zeros((len(encodings), width), dtype=np.int8)
    lengths = np.empty(len(encodings), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        lengths[row] = len(encoding.ids)
        ids[row, : lengths[row]] = encoding.ids
        type_ids[row, : lengths[row]] = encoding.type_ids
    shape = (len(groups), 1 + negatives)
    return GroupTensors(torch.from_numpy(ids).view(*shape, width), torch.from_numpy(type_ids).view(*shape, width),
                        torch.from_numpy(lengths).view(shape))

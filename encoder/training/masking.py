"""BERT's masking, drawn on the device for every batch: which positions a step predicts, and what the
model sees there instead."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

IGNORE = -100


@dataclass
class MaskingConfig:
    """BERT's masking: 15% of tokens are predicted; of those 80% become [MASK], 10% a random token, 10% stay."""

    mask_fraction: float = 0.15
    replace_with_mask: float = 0.8
    replace_with_random: float = 0.1


def mask_tokens(
    input_ids: torch.Tensor, lengths: torch.Tensor, special_ids: torch.Tensor, vocab_size: int,
    mask_id: int, config: MaskingConfig, generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Choose and corrupt positions on the device. Returns (corrupted ids, positions (B, P), labels (B, P)).

    Each row predicts round(15% of its real, non-special tokens); P is fixed from the row width so the
    shapes never change, and the unused slots of shorter rows carry the label IGNORE.
    """
    batch, width = input_ids.shape
    device = input_ids.device
    slots = max(1, math.ceil(width * config.mask_fraction))
    in_row = torch.arange(width, device=device)[None, :] < lengths[:, None]
    candidate = in_row & ~torch.isin(input_ids, special_ids)
    wanted = (candidate.sum(1).float() * config.mask_fraction).round().clamp(min=1).long()
    scores = torch.rand(batch, width, device=device, generator=generator).masked_fill(~candidate, -1.0)
    positions = scores.topk(slots, dim=1).indices
    valid = (torch.arange(slots, device=device)[None, :] < wanted[:, None]) & candidate.gather(1, positions)
    original = input_ids.gather(1, positions)
    labels = original.masked_fill(~valid, IGNORE)
    roll = torch.rand(batch, slots, device=device, generator=generator)
    random_tokens = torch.randint(0, vocab_size, (batch, slots), device=device, generator=generator)
    to_mask = valid & (roll < config.replace_with_mask)
    to_random = valid & (roll >= config.replace_with_mask) & (roll < config.replace_with_mask + config.replace_with_random)
    replacement = torch.where(to_mask, torch.full_like(original, mask_id), torch.where(to_random, random_tokens, original))
    return input_ids.scatter(1, positions, replacement), positions, labels

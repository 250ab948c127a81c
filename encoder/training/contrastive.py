"""The fine-tuning loss: symmetric InfoNCE over in-batch (and hard) negatives, on unit vectors pooled
as the `Encoder` pools them at search time, so what is trained is exactly what is served."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..text_encoder import pool
from .pair_tensors import PairTensors, TokenTable


class ContrastiveLoss(nn.Module):
    """Symmetric InfoNCE over in-batch (and hard) negatives, with a fixed or learnable temperature."""

    def __init__(self, temperature: float, learnable: bool) -> None:
        super().__init__()
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def forward(self, queries: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None = None,
                negative_mask: torch.Tensor | None = None) -> torch.Tensor:
        """`negative_mask` marks which rows of `negatives` are real: a batch of fixed shape carries a fixed
        number of negative slots, and an empty slot must not count as a candidate."""
        scale = self.log_scale.clamp(max=math.log(100.0)).exp()  # cap at 1/0.01, as CLIP does
        targets = torch.arange(len(queries), device=queries.device)
        logits = scale * queries @ positives.T
        if negatives is not None:
            negative_logits = scale * queries @ negatives.T
            if negative_mask is not None:
                negative_logits = negative_logits.masked_fill(~negative_mask[None, :], float("-inf"))
            logits = torch.cat([logits, negative_logits], dim=1)
        query_to_text = F.cross_entropy(logits, targets)
        text_to_query = F.cross_entropy(scale * positives @ queries.T, targets)
        return (query_to_text + text_to_query) / 2


def _texts(table: TokenTable, rows: torch.Tensor, static: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of some rows of a table; cut to their longest text unless shapes are static
    (reading the longest length is a host-device sync, which only the CPU can afford per step)."""
    ids, lengths = table.ids[rows], table.lengths[rows]
    if not static:
        ids = ids[:, : int(lengths.max())]
    mask = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]
    return ids.long(), mask


def _embed(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Unit vectors with gradients: the training twin of `Encoder.encode`."""
    hidden = model(ids, torch.zeros_like(ids), mask)
    return F.normalize(pool(hidden.float(), mask, pooling), dim=-1)


def batch_loss(model: nn.Module, loss_fn: ContrastiveLoss, data: PairTensors, rows: torch.Tensor, slots: int,
               pooling: str, static: bool) -> torch.Tensor:
    """The loss of the pairs at `rows` (device indices). The hard negatives of the batch fill `slots`
    fixed places, the pairs that have one first (a stable sort keeps the order random)."""
    queries = _embed(model, *_texts(data.queries, data.query_rows[rows], static), pooling)
    positives = _embed(model, *_texts(data.passages, data.positive_rows[rows], static), pooling)
    if not slots:
        return loss_fn(queries, positives)
    negative_rows = data.negative_rows[rows]
    chosen = torch.argsort((negative_rows < 0).int(), stable=True)[:slots]
    present = negative_rows[chosen] >= 0
    negatives = _embed(model, *_texts(data.passages, negative_rows[chosen].clamp(min=0), static), pooling)
    return loss_fn(queries, positives, negatives, present)

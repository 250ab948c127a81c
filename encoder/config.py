"""Sizes and options of a BERT, kept in one dataclass so a checkpoint's config.json is the whole recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

POOLING_MODES = ("mean", "cls")
ACTIVATIONS = ("gelu", "gelu_tanh")


@dataclass
class BertConfig:
    """Every size of the network; defaults are BERT-base as the paper has it."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    activation: str = "gelu"
    pad_token_id: int = 0
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, not {self.activation!r}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "BertConfig":
        """Build from a dict, refusing unknown keys so a typo in a config file is not silently ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown BertConfig keys: {', '.join(unknown)}")
        return cls(**values)

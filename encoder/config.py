"""Sizes and options of a BERT, kept in one dataclass so a checkpoint's config.json is the whole recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .flags import setting

POOLING_MODES = ("mean", "cls")
ACTIVATIONS = ("gelu", "gelu_tanh")


@dataclass
class BertConfig:
    """Every size of the network; defaults are BERT-base as the paper has it. The settings' flags are
    the training commands' (`--layers`, `--hidden`, ...)."""

    vocab_size: int = setting(30522, "word pieces in the vocabulary")
    hidden_size: int = setting(768, "width of every layer", flag="--hidden")
    num_layers: int = setting(12, "transformer layers", flag="--layers")
    num_heads: int = setting(12, "attention heads per layer", flag="--heads")
    intermediate_size: int | None = setting(None, "default 4 x hidden", flag="--intermediate")  # set in __post_init__
    max_position_embeddings: int = setting(512, "longest input the model can take, in tokens", flag="--max-positions")
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    dropout: float = setting(0.1, "dropout probability while training")
    activation: str = setting("gelu", "feed-forward activation", choices=ACTIVATIONS)
    pad_token_id: int = 0
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        # The feed-forward width follows the hidden one unless given, as BERT's 4:1 has it; a saved
        # config (config.json) always holds the number, so a checkpoint never depends on this rule.
        if self.intermediate_size is None:
            self.intermediate_size = 4 * self.hidden_size
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

"""Shared fixtures: a tiny WordPiece tokenizer and a tiny BERT, trained/built inside the test run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from encoder import BertConfig, BertModel, TextTokenizer, save_checkpoint, train_wordpiece
from samples import SENTENCES


@pytest.fixture(scope="session")
def tiny_tokenizer() -> TextTokenizer:
    return TextTokenizer(train_wordpiece(SENTENCES * 4, vocab_size=300, min_frequency=1), max_length=32)


@pytest.fixture(scope="session")
def tiny_config(tiny_tokenizer: TextTokenizer) -> BertConfig:
    return BertConfig(
        vocab_size=tiny_tokenizer.vocab_size,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        dropout=0.0,
    )


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_config: BertConfig, tiny_tokenizer: TextTokenizer) -> Path:
    """A randomly initialised tiny BERT saved as a checkpoint folder."""
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "tiny", BertModel(tiny_config), tiny_tokenizer, pooling="mean", max_length=32)

"""The uniform model soup: the mean of checkpoints fine-tuned from one start."""

import subprocess
import sys

import pytest
import torch

from encoder.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from encoder.config import BertConfig
from encoder.model import BertModel
from encoder.training.soup import average_checkpoints
from test_pipeline import _python_env


def _perturbed(folder, tiny_checkpoint, seed: int):
    """The tiny checkpoint with every weight moved by its own noise: a stand-in for one fine-tuned variant."""
    loaded = load_checkpoint(tiny_checkpoint)
    model = loaded.build()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator))
    return save_checkpoint(folder, model, loaded.tokenizer, loaded.pooling, loaded.max_length, extra={"hybrid_dense_weight": 0.2})


def test_the_soup_holds_the_mean_of_each_weight_and_the_first_ones_settings(tmp_path, tiny_checkpoint):
    a, b, c = (_perturbed(tmp_path / name, tiny_checkpoint, seed) for seed, name in enumerate("abc"))
    soup = load_checkpoint(average_checkpoints([a, b, c], tmp_path / "soup"))
    weights = [load_checkpoint(folder).weights for folder in (a, b, c)]
    for key, tensor in soup.weights.items():
        assert torch.allclose(tensor, (weights[0][key] + weights[1][key] + weights[2][key]) / 3, atol=1e-6)
    assert not torch.allclose(soup.weights["embeddings.word.weight"], weights[0]["embeddings.word.weight"])
    assert soup.extra["hybrid_dense_weight"] == 0.2 and soup.max_length == load_checkpoint(a).max_length


def test_networks_of_different_shapes_are_refused(tmp_path, tiny_checkpoint, tiny_tokenizer):
    loaded = load_checkpoint(tiny_checkpoint)
    wider = BertConfig(**{**loaded.config.to_dict(), "intermediate_size": loaded.config.intermediate_size * 2})
    other = save_checkpoint(tmp_path / "wider", BertModel(wider), tiny_tokenizer, max_length=32)
    with pytest.raises(CheckpointError, match="not the same network"):
        average_checkpoints([tiny_checkpoint, other], tmp_path / "soup")
    with pytest.raises(ValueError, match="at least two"):
        average_checkpoints([tiny_checkpoint], tmp_path / "soup")


def test_the_soup_command_writes_the_soup_and_says_what_a_user_got_wrong_in_one_line(tmp_path, tiny_checkpoint):
    a, b = (_perturbed(tmp_path / name, tiny_checkpoint, seed) for seed, name in enumerate("ab"))
    made = subprocess.run([sys.executable, "-m", "encoder.training.soup", str(tmp_path / "soup"), str(a), str(b)],
                          capture_output=True, text=True, env=_python_env())
    assert made.returncode == 0, made.stderr
    assert torch.allclose(load_checkpoint(tmp_path / "soup").weights["embeddings.word.weight"],
                          (load_checkpoint(a).weights["embeddings.word.weight"] + load_checkpoint(b).weights["embeddings.word.weight"]) / 2, atol=1e-6)
    refused = subprocess.run([sys.executable, "-m", "encoder.training.soup", str(tmp_path / "soup2"), str(a)],
                             capture_output=True, text=True, env=_python_env())
    assert refused.returncode == 1 and refused.stderr.strip() == "error: a soup needs at least two checkpoints"

"""The exporter against Hugging Face's and sentence-transformers' own loaders, on the tiny checkpoint."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from encoder import BertForPreTraining, CheckpointError, Encoder, export_hf, import_hf, load_checkpoint, save_checkpoint
from samples import SENTENCES

transformers = pytest.importorskip("transformers")
sentence_transformers = pytest.importorskip("sentence_transformers")
TEXTS = [*SENTENCES[:6], "", "A much longer text about rivers, valleys and proteins " * 8]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def randomised(tmp_path, tiny_checkpoint):
    """The tiny checkpoint with non-trivial LayerNorms and biases, so that a mis-mapped tensor shows."""
    checkpoint = load_checkpoint(tiny_checkpoint)
    model = checkpoint.build()
    torch.manual_seed(1)
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                tensor.add_(torch.randn_like(tensor) * 0.1)
    return save_checkpoint(tmp_path / "ours", model, checkpoint.tokenizer, pooling="mean", max_length=24)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_sentence_transformers_encodes_as_our_encoder(tmp_path, randomised, pooling):
    ours = Encoder(load_checkpoint(randomised).build(), load_checkpoint(randomised).tokenizer, pooling=pooling, precision="float32")
    source = ours.save(tmp_path / f"ours-{pooling}")
    folder = export_hf(source, tmp_path / "hf")
    model = sentence_transformers.SentenceTransformer(str(folder), device="cpu")
    assert model.max_seq_length == 24
    theirs = model.encode(TEXTS, convert_to_numpy=True)
    assert np.allclose(np.linalg.norm(theirs, axis=1), 1, atol=1e-5)  # the Normalize module is there
    assert cosines(theirs, ours.encode(TEXTS)).min() > 1 - 1e-5


def test_transformers_loads_a_bert_model_with_our_hidden_states(tmp_path, randomised):
    folder = export_hf(randomised, tmp_path / "hf")
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertModel"] and config["model_type"] == "bert"
    assert not any((folder / name).exists() for name in ("pytorch_model.bin", "2_Normalize"))
    model = transformers.AutoModel.from_pretrained(folder).eval()
    assert type(model).__name__ == "BertModel"
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(TEXTS[:3], padding=True, return_tensors="pt")
    ours = load_checkpoint(randomised).build().eval()
    assert tokenizer(TEXTS[0])["input_ids"] == load_checkpoint(randomised).tokenizer.encode(TEXTS[:1])[0].ids
    with torch.no_grad():
        expected = ours(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
        actual = model(**batch).last_hidden_state
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(actual[real], expected[real], atol=1e-5, rtol=1e-5)


def test_round_trip_through_import_hf_keeps_vectors_pooling_and_length(tmp_path, randomised):
    ours = Encoder.load(randomised, precision="float32", pooling="cls")
    source = ours.save(tmp_path / "cls")
    back = Encoder.load(import_hf(export_hf(source, tmp_path / "hf"), tmp_path / "back"), precision="float32")
    assert (back.pooling, back.max_length) == ("cls", 24)
    assert np.abs(back.encode(TEXTS) - ours.encode(TEXTS)).max() < 1e-6


def test_pretraining_heads_are_left_behind(tmp_path, tiny_config, tiny_tokenizer):
    source = save_checkpoint(tmp_path / "pretrained", BertForPreTraining(tiny_config), tiny_tokenizer, max_length=32)
    folder = export_hf(source, tmp_path / "hf")
    assert type(transformers.AutoModel.from_pretrained(folder)).__name__ == "BertModel"
    with pytest.raises(CheckpointError, match="overwrite"):
        export_hf(source, source)


@pytest.mark.commands
def test_manage_export_hf_writes_refuses_to_overwrite_and_names_errors(tmp_path, tiny_checkpoint):
    def run(*args):
        manage = Path(__file__).resolve().parents[2] / "manage.py"
        return subprocess.run([sys.executable, str(manage), "export-hf", *args], capture_output=True, text=True, timeout=120)

    destination = str(tmp_path / "hf")
    result = run(str(tiny_checkpoint), destination)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and (tmp_path / "hf" / "1_Pooling" / "config.json").is_file()
    again = run(str(tiny_checkpoint), destination)
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    assert run("--force", str(tiny_checkpoint), destination).returncode == 0
    missing = run(str(tmp_path / "nowhere"), str(tmp_path / "x"))
    assert missing.returncode == 2 and "no such checkpoint folder" in missing.stderr and "Traceback" not in missing.stderr

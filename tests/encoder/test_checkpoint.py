import json

import pytest
import torch
from safetensors.torch import load_file

from encoder import BertForPreTraining, BertModel, CheckpointError, Encoder, load_checkpoint, save_checkpoint
from encoder.checkpoint import save_settings


def test_round_trip_is_exact(tiny_checkpoint):
    checkpoint = load_checkpoint(tiny_checkpoint)
    model = checkpoint.build()
    saved = load_file(tiny_checkpoint / "model.safetensors")
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, saved[key]), key
    again = save_checkpoint(tiny_checkpoint.parent / "again", model, checkpoint.tokenizer, max_length=32)
    assert (again / "model.safetensors").read_bytes() == (tiny_checkpoint / "model.safetensors").read_bytes()
    assert (again / "tokenizer.json").read_text() == (tiny_checkpoint / "tokenizer.json").read_text()
    texts = ["the pen is red", "a cat sat on the mat"]
    assert (Encoder.load(tiny_checkpoint).encode(texts) == Encoder.load(again).encode(texts)).all()


def test_config_holds_pooling_and_max_length(tiny_checkpoint):
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    assert config["pooling"] == "mean" and config["max_length"] == 32
    assert config["bert"]["hidden_size"] == 32


def test_pretraining_heads_round_trip_without_storing_the_tied_matrix(tmp_path, tiny_config, tiny_tokenizer):
    torch.manual_seed(1)
    model = BertForPreTraining(tiny_config)
    folder = save_checkpoint(tmp_path / "pre", model, tiny_tokenizer, max_length=32)
    stored = load_file(folder / "model.safetensors")
    assert "mlm_head.decoder.weight" not in stored and "nsp_head.classifier.weight" in stored
    again = load_checkpoint(folder).build(BertForPreTraining)
    ids = torch.tensor([[2, 10, 11, 3]])
    for a, b in zip(model.eval()(ids, torch.zeros_like(ids)), again.eval()(ids, torch.zeros_like(ids))):
        assert torch.equal(a, b)
    assert again.mlm_head.decoder.weight is again.bert.embeddings.word.weight
    backbone = load_checkpoint(folder).build(BertModel)  # the encoder ignores the heads
    assert torch.equal(backbone(ids), model.bert(ids))


def test_float16_storage_is_half_the_size_and_close(tmp_path, tiny_checkpoint):
    checkpoint = load_checkpoint(tiny_checkpoint)
    half = save_checkpoint(tmp_path / "half", checkpoint.build(), checkpoint.tokenizer, max_length=32, dtype=torch.float16)
    full_size = (tiny_checkpoint / "model.safetensors").stat().st_size
    assert (half / "model.safetensors").stat().st_size < 0.6 * full_size
    texts = ["the pen is red", "proteins fold into shapes"]
    a = Encoder.load(tiny_checkpoint, precision="float32").encode(texts)
    b = Encoder.load(half, precision="float32").encode(texts)
    assert (a * b).sum(1).min() > 0.999


def test_errors_name_the_folder_and_the_problem(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "hf" / "model.safetensors").write_bytes(b"")
    (tmp_path / "hf" / "tokenizer.json").write_text("{}")
    with pytest.raises(CheckpointError, match="import-hf"):
        load_checkpoint(tmp_path / "hf")
    (tiny_checkpoint / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="missing tokenizer.json"):
        load_checkpoint(tiny_checkpoint)


def test_corrupt_weights_are_reported(tiny_checkpoint):
    (tiny_checkpoint / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tiny_checkpoint)


def test_a_config_that_is_not_json_is_named(tiny_checkpoint):
    (tiny_checkpoint / "config.json").write_text("{truncated")
    with pytest.raises(CheckpointError, match=r"config\.json: cannot read JSON"):
        load_checkpoint(tiny_checkpoint)


def test_settings_merge_into_the_config_leaving_the_network_and_weights_as_they_were(tiny_checkpoint):
    weights_before = (tiny_checkpoint / "model.safetensors").read_bytes()
    save_settings(tiny_checkpoint, {"hybrid_dense_weight": 0.2})
    meta = save_settings(tiny_checkpoint, {"hybrid_dense_weight": 0.3, "note": "tuned on dev"})
    assert json.loads((tiny_checkpoint / "config.json").read_text()) == meta
    assert load_checkpoint(tiny_checkpoint).extra == {"hybrid_dense_weight": 0.3, "note": "tuned on dev"}
    assert (tiny_checkpoint / "model.safetensors").read_bytes() == weights_before
    with pytest.raises(ValueError, match="max_length: the network's own settings"):
        save_settings(tiny_checkpoint, {"max_length": 8})


def test_settings_are_not_written_into_a_folder_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        save_settings(tmp_path, {"hybrid_dense_weight": 0.3})
    assert (tmp_path / "config.json").read_text() == "{}"

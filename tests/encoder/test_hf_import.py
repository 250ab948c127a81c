"""The importer against Hugging Face's own BERT implementation, on tiny random weights."""

import json

import pytest
import torch

from encoder import BertForPreTraining, CheckpointError, Encoder, import_hf, load_checkpoint

transformers = pytest.importorskip("transformers")


@pytest.fixture
def hf_folder(tmp_path, tiny_config, tiny_tokenizer):
    """A Hugging Face BertForPreTraining folder with random weights and a vocab.txt."""
    config = transformers.BertConfig(
        vocab_size=tiny_config.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, hidden_act="gelu",
    )
    torch.manual_seed(3)
    model = transformers.BertForPreTraining(config).eval()
    with torch.no_grad():  # random, non-trivial LayerNorms and biases so a mis-mapped tensor shows
        for name, tensor in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                tensor.add_(torch.randn_like(tensor) * 0.1)
    folder = tmp_path / "hf"
    model.save_pretrained(folder)
    vocab = [tiny_tokenizer.tokenizer.id_to_token(i) for i in range(tiny_tokenizer.vocab_size)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 48}))
    return folder, model


def test_imported_model_matches_hugging_face_outputs(tmp_path, hf_folder):
    folder, reference = hf_folder
    ours = load_checkpoint(import_hf(folder, tmp_path / "ours")).build(BertForPreTraining).eval()
    ids = torch.randint(5, reference.config.vocab_size, (2, 12))
    types = torch.tensor([[0] * 6 + [1] * 6, [0] * 12])
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    with torch.no_grad():
        expected = reference(input_ids=ids, token_type_ids=types, attention_mask=mask, output_hidden_states=True)
        mlm, nsp = ours(ids, types, mask)
        hidden = ours.bert(ids, types, mask)
    real = mask.bool()
    torch.testing.assert_close(hidden[real], expected.hidden_states[-1][real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mlm[real], expected.prediction_logits[real], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(nsp, expected.seq_relationship_logits, atol=1e-5, rtol=1e-5)


def test_vocab_txt_and_tokenizer_config_are_used(tmp_path, hf_folder, tiny_tokenizer):
    folder, _ = hf_folder
    checkpoint = load_checkpoint(import_hf(folder, tmp_path / "ours"))
    assert checkpoint.max_length == 48 and checkpoint.pooling == "mean"
    text = "The Pen is RED"
    assert checkpoint.tokenizer.tokens(text) == tiny_tokenizer.tokens(text)


def test_pytorch_bin_and_sentence_transformers_pooling(tmp_path, hf_folder, tiny_tokenizer):
    folder, reference = hf_folder
    (folder / "model.safetensors").unlink()
    torch.save(reference.state_dict(), folder / "pytorch_model.bin")
    tiny_tokenizer.save(folder / "tokenizer.json")
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 20}))
    encoder = Encoder.load(import_hf(folder, tmp_path / "ours"), precision="float32")
    assert encoder.pooling == "cls" and encoder.max_length == 20
    ids = torch.tensor([encoder.tokenizer.encode(["the pen is red"])[0].ids])
    with torch.no_grad():
        cls = reference.bert(input_ids=ids).last_hidden_state[:, 0]
    expected = torch.nn.functional.normalize(cls, dim=-1).numpy()
    assert abs(encoder.encode(["the pen is red"]) - expected).max() < 1e-5


def test_non_bert_models_are_refused(tmp_path, hf_folder):
    folder, _ = hf_folder
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    with pytest.raises(CheckpointError, match="roberta"):
        import_hf(folder, tmp_path / "ours")
    with pytest.raises(CheckpointError, match="no config.json"):
        import_hf(tmp_path / "empty", tmp_path / "ours")

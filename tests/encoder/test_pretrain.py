import json

import pytest
import torch

from samples import SENTENCES
from encoder import BertConfig, BertForPreTraining, load_checkpoint
from encoder.corpus import Document
from encoder.pretrain import IGNORE, MaskingConfig, PretrainConfig, mask_tokens, pretrain
from encoder.pretraining_data import PrepareConfig, prepare_pretraining
from encoder.training import compile_static


def test_masking_proportions_hold():
    torch.manual_seed(0)
    batch, width, vocab, mask_id = 400, 64, 5000, 4
    ids = torch.randint(5, vocab, (batch, width))
    lengths = torch.randint(20, width + 1, (batch,))
    ids[:, 0] = 2
    ids[torch.arange(batch), lengths - 1] = 3
    ids[torch.arange(width)[None, :] >= lengths[:, None]] = 0
    special = torch.tensor([0, 1, 2, 3, 4])
    corrupted, positions, labels = mask_tokens(ids, lengths, special, vocab, mask_id, MaskingConfig())
    valid = labels != IGNORE
    candidates = (lengths - 2).sum().item()
    assert abs(valid.sum().item() / candidates - 0.15) < 0.01
    chosen = positions[valid]
    rows = torch.arange(batch)[:, None].expand_as(positions)[valid]
    assert (chosen > 0).all() and (chosen < lengths[rows] - 1).all()  # never [CLS], [SEP] or padding
    assert torch.equal(labels[valid], ids[rows, chosen])
    new = corrupted[rows, chosen]
    masked = (new == mask_id).float().mean().item()
    kept = (new == labels[valid]).float().mean().item()
    assert abs(masked - 0.8) < 0.02 and abs(kept - 0.1) < 0.02 and abs(1 - masked - kept - 0.1) < 0.02
    untouched = torch.ones_like(ids, dtype=torch.bool)
    untouched[rows, chosen] = False
    assert torch.equal(corrupted[untouched], ids[untouched])


@pytest.fixture
def prepared(tmp_path, tiny_tokenizer):
    documents = [Document("", [" ".join(SENTENCES[i % 8:] + SENTENCES[: i % 8])]) for i in range(80)]
    prepare_pretraining(documents, tiny_tokenizer, tmp_path / "data", PrepareConfig(max_length=32), show_progress=False)
    tokenizer = tmp_path / "tokenizer.json"
    tiny_tokenizer.save(tokenizer)
    return tmp_path / "data", tokenizer


def config(tmp_path, prepared, **overrides) -> PretrainConfig:
    data, tokenizer = prepared
    base = dict(data_dir=str(data), tokenizer=str(tokenizer), output_dir=str(tmp_path / "run"),
                model=BertConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_position_embeddings=32, dropout=0.0),
                batch_size=16, lr=3e-3, warmup_fraction=0.1, log_every=5, time_budget_s=3600, device="cpu", precision="float32")
    return PretrainConfig(**{**base, **overrides})


def log_records(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]


def test_mlm_loss_falls_and_checkpoint_has_heads(tmp_path, prepared):
    folder = pretrain(config(tmp_path, prepared, max_steps=60), show_progress=False)
    losses = [r["mlm_loss"] for r in log_records(tmp_path) if "mlm_loss" in r]
    assert losses[-1] < losses[0] - 1.0
    records = log_records(tmp_path)
    assert all(r["tokens_per_s"] > 0 and 0 < r["mfu"] < 1 for r in records if "mfu" in r)
    model = load_checkpoint(folder).build(BertForPreTraining)
    assert model.nsp_head.classifier.weight.abs().sum() > 0


def test_time_budget_ends_the_run_on_time(tmp_path, prepared):
    pretrain(config(tmp_path, prepared, time_budget_s=4.0), show_progress=False)
    end = log_records(tmp_path)[-1]
    assert end["event"] == "end" and abs(end["elapsed_s"] - 4.0) <= 0.4


def test_resume_continues_from_the_saved_step(tmp_path, prepared):
    pretrain(config(tmp_path, prepared, max_steps=10), show_progress=False)
    first = load_checkpoint(tmp_path / "run" / "checkpoint").weights
    pretrain(config(tmp_path, prepared, max_steps=20), show_progress=False)
    starts = [r for r in log_records(tmp_path) if r.get("event") == "start"]
    ends = [r for r in log_records(tmp_path) if r.get("event") == "end"]
    assert [s["step"] for s in starts] == [0, 10] and [e["step"] for e in ends] == [10, 20]
    assert ends[1]["elapsed_s"] > ends[0]["elapsed_s"]
    steps = [r["step"] for r in log_records(tmp_path) if "mlm_loss" in r]
    assert steps == [5, 10, 15, 20]
    second = load_checkpoint(tmp_path / "run" / "checkpoint").weights
    assert any(not torch.equal(first[k], second[k]) for k in first)


def test_compiled_masking_survives_a_second_run_with_other_shapes():
    """Regression: with torch.compile's default dynamic shapes, the recompile for a new shape traced
    `torch.rand` with a symbolic batch size and failed (seen on an H200: a second `pretrain` call in one
    process). The eager backend traces the same way, in a fraction of the time."""
    special = torch.tensor([0, 1, 2, 3, 4])
    for batch, width in [(8, 16), (4, 16), (6, 24)]:
        masked = compile_static(mask_tokens, backend="eager")
        ids = torch.randint(5, 100, (batch, width))
        corrupted, positions, labels = masked(ids, torch.full((batch,), width), special, 100, 3, MaskingConfig())
        assert corrupted.shape == (batch, width) and positions.shape == labels.shape

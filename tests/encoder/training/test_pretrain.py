import json

import pytest
import torch

from samples import SENTENCES
from encoder import BertConfig, BertForPreTraining, load_checkpoint
from encoder.tokenizer import TextTokenizer, train_wordpiece
from encoder.training.corpus import Document
from encoder.training.pretrain import PretrainConfig, pretrain
from encoder.training.pretraining_data import PrepareConfig, prepare_pretraining


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


def test_a_run_continues_another_and_the_checkpoint_keeps_the_lineage(tmp_path, prepared):
    first = pretrain(config(tmp_path / "a", prepared, max_steps=10), show_progress=False)
    # The flags ask for another size: the architecture is the checkpoint's, as are the starting weights.
    other_size = BertConfig(hidden_size=64, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=32)
    unchanged = pretrain(config(tmp_path / "b", prepared, max_steps=0, model=other_size, init_checkpoint=str(first)), show_progress=False)
    start, kept = load_checkpoint(first), load_checkpoint(unchanged)
    assert kept.config == start.config
    assert all(torch.allclose(start.weights[k], kept.weights[k]) for k in start.weights)

    second = pretrain(config(tmp_path / "c", prepared, max_steps=15, init_checkpoint=str(first)), show_progress=False)
    lineage = load_checkpoint(second).extra["pretraining"]
    assert [run["steps"] for run in lineage] == [10, 15]
    assert all(run["tokens_seen"] > 0 and run["final_mlm_loss"] > 0 and run["documents"] == 80 for run in lineage)
    assert lineage[0] == load_checkpoint(first).extra["pretraining"][0]
    assert lineage[1]["final_mlm_loss"] < lineage[0]["final_mlm_loss"]


def test_a_resumed_run_replaces_its_own_lineage_record(tmp_path, prepared):
    first = pretrain(config(tmp_path / "a", prepared, max_steps=5), show_progress=False)
    pretrain(config(tmp_path, prepared, max_steps=10, init_checkpoint=str(first)), show_progress=False)
    resumed = pretrain(config(tmp_path, prepared, max_steps=20, init_checkpoint=str(first)), show_progress=False)
    lineage = load_checkpoint(resumed).extra["pretraining"]
    assert [run["steps"] for run in lineage] == [5, 20]
    tokens_per_step = lineage[0]["tokens_seen"] / 5
    assert lineage[1]["tokens_seen"] == pytest.approx(20 * tokens_per_step, rel=0.3)


def test_continuing_with_another_tokenizer_is_an_error_that_names_both(tmp_path, prepared, tiny_tokenizer):
    first = pretrain(config(tmp_path / "a", prepared, max_steps=2), show_progress=False)
    other = tmp_path / "other.json"
    TextTokenizer(train_wordpiece(["a different vocabulary of words entirely"] * 5, vocab_size=60), 32).save(other)
    with pytest.raises(ValueError, match="its tokenizer is not .*other.json"):
        pretrain(config(tmp_path / "b", prepared, max_steps=2, tokenizer=str(other), init_checkpoint=str(first)), show_progress=False)

"""Adaptation training on a tiny model and a tiny collection: it changes the weights, saves a servable
checkpoint, and refuses a collection too small for one batch."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from encoder import Encoder
from encoder.checkpoint import load_checkpoint
from encoder.training.adapt import AdaptConfig, adapt, sample, span_documents, step_limit
from samples import SENTENCES

DOCUMENTS = [(f"Note {i}", f"{text}\n{SENTENCES[(i + 1) % len(SENTENCES)]}") for i, text in enumerate(SENTENCES)]


def config(checkpoint: Path, out: Path, **changes) -> AdaptConfig:
    return AdaptConfig(init_checkpoint=str(checkpoint), output_dir=str(out), time_budget_s=0,
                       **({"max_steps": 3, "lr": 1e-3, "span_words": (2, 6), "positive_words": (3, 8), "pair_rounds": 2, "log_every": 1, "device": "cpu", "precision": "float32", "batch_size": 4} | changes))


@pytest.mark.parametrize("mlm_weight", [0.5, 0.0])
def test_adaptation_changes_the_weights_and_saves_a_servable_checkpoint(tiny_checkpoint, tmp_path, mlm_weight):
    passages = [text for _, text in DOCUMENTS]
    settings = {**json.loads((tiny_checkpoint / "config.json").read_text()), "hybrid_dense_weight": 0.3}
    (tiny_checkpoint / "config.json").write_text(json.dumps(settings))
    result = adapt(config(tiny_checkpoint, tmp_path / "run", mlm_weight=mlm_weight), DOCUMENTS, passages, show_progress=False)
    assert Encoder.load(result.checkpoint).settings == {"hybrid_dense_weight": 0.3}  # what was tuned for the parent comes along
    before, after = load_checkpoint(tiny_checkpoint).weights, load_checkpoint(result.checkpoint).weights
    assert set(after) == set(before)  # the encoder only: the MLM head is not part of a served model
    assert any(not torch.allclose(before[name].float(), after[name].float()) for name in before)
    assert result.steps == 3 and result.documents == result.collection_documents == len(DOCUMENTS) and result.pairs >= 4
    assert (result.final_mlm_loss is None) == (mlm_weight == 0)
    assert Encoder.load(result.checkpoint).encode(["a red pen"]).shape == (1, Encoder.load(tiny_checkpoint).dim)
    logged = [json.loads(line) for line in (tmp_path / "run" / "adapt_log.jsonl").read_text().splitlines()]
    assert logged[0]["event"] == "start" and all("pairs_per_s" in line for line in logged[1:-1])


def test_a_pass_limit_ends_a_run_whose_budget_has_time_left(tiny_checkpoint, tmp_path):
    result = adapt(config(tiny_checkpoint, tmp_path / "run", max_steps=None, max_passes=1.5), DOCUMENTS, [], show_progress=False)
    assert result.steps == -(-3 * result.pairs // 8) and 1.5 <= result.passes < 1.5 + 4 / result.pairs  # ceil(1.5 pairs / batch of 4)
    logged = [json.loads(line) for line in (tmp_path / "run" / "adapt_log.jsonl").read_text().splitlines()]
    assert logged[-1]["event"] == "end" and logged[-1]["passes"] == result.passes


def test_a_large_collection_is_sampled_not_read_whole(tiny_checkpoint, tmp_path):
    """Only `max_documents` documents are held and cut into pairs; the streamed rest is counted."""
    streamed = ((title, text) for title, text in DOCUMENTS * 3)  # a generator, as the store streams documents
    result = adapt(config(tiny_checkpoint, tmp_path / "run", max_documents=5), streamed, [], show_progress=False)
    assert result.documents == 5 and result.collection_documents == 3 * len(DOCUMENTS)
    assert result.pairs == 5 * 2 * 2  # two rounds of at most two pairs a document (these documents give both)


def test_sampling_keeps_count_items_chosen_by_the_seed_and_all_when_count_is_zero():
    chosen, seen = sample(iter(range(1000)), 10, seed=3)
    assert seen == 1000 and len(set(chosen)) == 10 and set(chosen) <= set(range(1000))
    assert chosen == sample(range(1000), 10, seed=3)[0] and chosen != sample(range(1000), 10, seed=4)[0]
    assert max(chosen) > 100  # not the first ten: later items get their chance
    assert sample(range(7), 0, seed=0) == (list(range(7)), 7) and sample(range(7), 10, seed=0) == (list(range(7)), 7)
    # Uniform: over many seeds, each of 20 items is drawn about count/20 of the time.
    counts = [0] * 20
    for seed in range(2000):
        for item in sample(range(20), 5, seed)[0]:
            counts[item] += 1
    assert min(counts) > 400 and max(counts) < 600  # expected 500 each


def test_the_step_limit_is_the_nearer_of_steps_and_passes(tmp_path):
    limits = AdaptConfig(init_checkpoint="", output_dir="", batch_size=10)
    assert step_limit(replace(limits, max_steps=None, max_passes=2.0), 95) == 19
    assert step_limit(replace(limits, max_steps=7, max_passes=2.0), 95) == 7
    assert step_limit(replace(limits, max_steps=30, max_passes=0.5), 95) == 5
    assert step_limit(replace(limits, max_steps=None, max_passes=0), 95) is None  # time alone


def test_a_run_that_makes_no_step_is_refused_not_saved(tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="before its first step"):
        adapt(config(tiny_checkpoint, tmp_path / "run", max_steps=0), DOCUMENTS, [], show_progress=False)
    assert not (tmp_path / "run" / "checkpoint").exists()
    with pytest.raises(ValueError, match="max passes -1"):
        adapt(config(tiny_checkpoint, tmp_path / "run", max_passes=-1.0), DOCUMENTS, [], show_progress=False)


def test_a_collection_too_small_for_one_batch_is_refused(tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="fewer than one batch"):
        adapt(config(tiny_checkpoint, tmp_path / "run", batch_size=64), DOCUMENTS[:2], [], show_progress=False)


def test_span_documents_keep_one_paragraph_per_line_and_drop_empty_texts():
    documents = span_documents([("T", "first line\n\n second line "), ("Empty", "  \n")])
    assert [(d.title, d.paragraphs) for d in documents] == [("T", ["first line", "second line"])]


def test_span_lengths_out_of_order_are_refused_before_training(tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="positive words"):
        adapt(config(tiny_checkpoint, tmp_path / "run", positive_words=(8, 3)), DOCUMENTS, [], show_progress=False)

"""Reranker training on a tiny model and tiny groups: after training the planted relevant passage ranks
above its distractors, under either loss; groups and their pre-tokenised inputs; the command's errors."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from encoder import BertForPairScoring, CrossEncoder, load_checkpoint
from encoder.training import Pair
from encoder.training.reranker import FIRST_STAGE_WEIGHTS, RerankerConfig, group_scores, rerank_loss, train_reranker
from encoder.training.rerank_groups import Group, group_pairs, tokenize_groups
from encoder.training.rerank_evaluation import CANDIDATES_FILE, write_candidates
from samples import SENTENCES, write_beir

ROOT = Path(__file__).resolve().parents[3]
# Each query is planted in one sentence (its words are that sentence's); the other sentences are its
# distractors, so every sentence is a positive once and a negative seven times: no passage is good on its own.
QUERIES = ["red pen", "vaccines immune system", "stock market fell", "cat sat on the mat",
           "proteins fold", "search engines rank documents", "river flooded the valley", "neural networks learn"]
GROUPS = [Group(query, SENTENCES[i], tuple(SENTENCES[(i + k) % len(SENTENCES)] for k in range(1, 8)), "test") for i, query in enumerate(QUERIES)]


def planted_first(folder: Path) -> float:
    """Share of the queries whose planted sentence scores highest among all the sentences."""
    scorer = CrossEncoder.load(folder, precision="float32")
    return float(np.mean([np.argmax(scorer.score(query, SENTENCES)) == i for i, query in enumerate(QUERIES)]))


@pytest.mark.parametrize("loss", ["listwise", "pointwise"])
def test_training_puts_the_planted_passage_above_its_distractors(tmp_path, tiny_checkpoint, loss):
    dev = write_beir(tmp_path / "dev", {f"q{i}": query for i, query in enumerate(QUERIES)}, split="dev")
    # a first stage that ranks each query's planted sentence last of the eight
    write_candidates({f"q{i}": [f"d{(i + k) % len(SENTENCES)}" for k in range(1, len(SENTENCES) + 1)] for i in range(len(QUERIES))},
                     dev / CANDIDATES_FILE)
    config = RerankerConfig(init_checkpoint=str(tiny_checkpoint), output_dir=str(tmp_path / loss), extra_groups=GROUPS, loss=loss,
                            negatives=7, batch_size=8, max_steps=300, lr=1e-3, warmup_fraction=0.05, max_length=48, device="cpu",
                            precision="float32", time_budget_s=3600, seed=0, dev_dir=str(dev))
    torch.manual_seed(0)
    folder = train_reranker(config, show_progress=False)
    assert planted_first(folder) >= 0.5  # 4 of 8 at least (chance: 1 of 8; untrained, under half: below). At 150 steps of 3e-3
    # the listwise loss swung up and down, and runs ranked 3 to 8 of 8 first with the CPU, the threads and what ran before in
    # the process; at 300 steps of 1e-3 six seeds, on one thread and on two, ranked 8 of 8 with either loss.
    assert CrossEncoder.load(folder).max_length == 32  # the init checkpoint's, as saved
    log = (tmp_path / loss / "reranker_log.jsonl").read_text()
    assert f'"{loss}_loss"' in log and '"pairs_per_s"' in log and '"event": "dev"' in log
    figures = json.loads((tmp_path / loss / "eval.json").read_text())  # the dev queries' gain, measured in the run
    assert figures["reranked top 10"]["ndcg@10"] > figures["first stage"]["ndcg@10"] == pytest.approx(100 / math.log2(9), abs=0.01)
    # The blend best on the dev queries at depth 30 is what the reranker keeps, and it never prefers the worst-first order whole.
    best = max(figures[f"reranked top 30{f', first stage {w:g}' if w else ''}"]["ndcg@10"] for w in FIRST_STAGE_WEIGHTS)
    chosen = figures["first_stage_weight"]
    assert CrossEncoder.load(folder).first_stage_weight == chosen < 1.0
    assert figures[f"reranked top 30{f', first stage {chosen:g}' if chosen else ''}"]["ndcg@10"] == best


def test_a_planted_passage_is_not_first_before_training(tmp_path, tiny_checkpoint):
    torch.manual_seed(0)
    untrained = CrossEncoder(load_checkpoint(tiny_checkpoint).build(BertForPairScoring), load_checkpoint(tiny_checkpoint).tokenizer)
    assert planted_first(untrained.save(tmp_path / "untrained")) < 0.5


def test_pairs_lines_become_groups_and_short_groups_are_topped_up(tiny_tokenizer):
    cat, dog, river, pen, vaccines = "the cat sat", "the dog slept", "the river flooded", "the pen is red", "vaccines train the immune system"
    pairs = [Pair("cat", cat, "s", dog), Pair("cat", cat, "s", river), Pair("cat", cat, "s", dog), Pair("pen", pen, "s"),
             Pair("cat", cat, "s", cat), Pair("immune", vaccines, "t", "stock market")]
    groups = group_pairs(pairs)
    assert groups == [Group("cat", cat, (dog, river), "s"), Group("pen", pen, (), "s"), Group("immune", vaccines, ("stock market",), "t")]
    length = tiny_tokenizer.max_length
    data = tokenize_groups(tiny_tokenizer, groups, negatives=2, width=16, seed=0)
    assert data.ids.shape == (3, 3, 16) and data.lengths.shape == (3, 3) and len(data) == 3 and data.group_size == 3
    assert tiny_tokenizer.max_length == length != 16  # the width was this call's, not the lent tokenizer's

    def row(group: int, slot: int) -> tuple[list[int], list[int]]:
        length = int(data.lengths[group, slot])
        assert (data.ids[group, slot, length:] == tiny_tokenizer.pad_id).all()
        return data.ids[group, slot, :length].tolist(), data.type_ids[group, slot, :length].tolist()

    def encoded(query: str, passage: str) -> tuple[list[int], list[int]]:
        encoding = tiny_tokenizer.encode([query], [passage])[0]
        return encoding.ids, encoding.type_ids

    assert [row(0, slot) for slot in range(3)] == [encoded("cat", text) for text in (cat, dog, river)]
    assert row(1, 0) == encoded("pen", pen)
    assert sorted([row(1, 1), row(1, 2)]) == sorted([encoded("pen", cat), encoded("pen", vaccines)])  # other positives, not its own
    with pytest.raises(ValueError, match="3 distinct passages"):
        tokenize_groups(tiny_tokenizer, groups, negatives=3, width=16)


def test_the_two_losses_prefer_the_positive_in_column_zero():
    right, wrong = torch.tensor([[3.0, -1.0, -2.0]]), torch.tensor([[-1.0, 3.0, -2.0]])
    for loss in ("listwise", "pointwise"):
        assert rerank_loss(right, loss) < rerank_loss(wrong, loss)


def test_a_cpu_batch_is_cut_to_its_longest_input(tiny_tokenizer, tiny_config):
    data = tokenize_groups(tiny_tokenizer, GROUPS, negatives=2, width=64)
    model = BertForPairScoring(tiny_config).eval()
    rows = torch.tensor([0, 1])
    with torch.no_grad():
        cut, padded = group_scores(model, data, rows, static=False), group_scores(model, data, rows, static=True)
    assert cut.shape == (2, 3)
    torch.testing.assert_close(cut, padded, atol=1e-4, rtol=1e-4)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.commands
def test_the_command_reports_user_errors_without_a_traceback(tmp_path, tiny_checkpoint):
    base = ["train-reranker", "--init", str(tiny_checkpoint), "--out", str(tmp_path / "out"), "--budget", "5"]
    missing = run(*base, "--pairs", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "nope.jsonl: no such pairs file" in missing.stderr and "Traceback" not in missing.stderr
    few = tmp_path / "few.jsonl"
    few.write_text('{"query": "q", "positive": "p", "negative": "n"}\n')
    too_few = run(*base, "--pairs", str(few))
    assert too_few.returncode == 2 and "1 training groups, fewer than one batch" in too_few.stderr and "Traceback" not in too_few.stderr
    not_a_model = run("train-reranker", "--init", str(tmp_path), "--out", str(tmp_path / "out"), "--budget", "5", "--pairs", str(few),
                      "--batch-size", "1")
    assert not_a_model.returncode == 2 and "Traceback" not in not_a_model.stderr
    no_candidates = run(*base, "--pairs", str(few), "--batch-size", "1", "--dev", str(write_beir(tmp_path / "dev", split="dev")))
    assert no_candidates.returncode == 2 and "rerank_candidates.jsonl does not exist" in no_candidates.stderr
    assert not (tmp_path / "out").exists()  # nothing is left behind by a run that could not start

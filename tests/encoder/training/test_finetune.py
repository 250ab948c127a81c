import json
from dataclasses import replace

import numpy as np

from encoder import BertModel, Encoder, TextTokenizer, load_checkpoint, save_checkpoint
from encoder.training.finetune import FinetuneConfig, finetune
from encoder.training.pairs import Pair

PAIRS = [
    ("the cat sat on the mat", "a cat was sitting on a mat"),
    ("stock market fell sharply", "shares dropped on tuesday"),
    ("vaccines train the immune system", "the immune system learns from a vaccine"),
    ("proteins fold into shapes", "the shape of a protein decides what it does"),
    ("the river flooded the valley", "water from the river covered the farms"),
    ("search engines rank documents", "a query is matched against documents"),
    ("neural networks learn representations", "networks learn vectors for words"),
    ("the dog slept by the door", "a dog was sleeping near the door"),
]


def paired_gap(encoder: Encoder) -> float:
    a = encoder.encode([q for q, _ in PAIRS])
    b = encoder.encode([p for _, p in PAIRS])
    similarity = a @ b.T
    return float(np.diag(similarity).mean() - similarity[~np.eye(len(PAIRS), dtype=bool)].mean())


def test_finetuning_moves_paired_texts_closer(tmp_path, tiny_checkpoint):
    before = paired_gap(Encoder.load(tiny_checkpoint, precision="float32"))
    pairs = [Pair(q, p, "test") for q, p in PAIRS]
    config = FinetuneConfig(init_checkpoint=str(tiny_checkpoint), output_dir=str(tmp_path / "ft"), sources=(), extra_pairs=pairs,
                            batch_size=8, max_steps=40, lr=2e-3, device="cpu", precision="float32", time_budget_s=3600)
    folder = finetune(config, show_progress=False)
    after_encoder = Encoder.load(folder, precision="float32")
    after = paired_gap(after_encoder)
    assert after > before + 0.2 and after > 0.2
    assert after_encoder.max_length == 32 and after_encoder.pooling == "mean"


def test_the_pretraining_lineage_is_kept_and_the_starting_models_tuned_settings_are_not(tmp_path, tiny_checkpoint):
    start = load_checkpoint(tiny_checkpoint)
    lineage = [{"files": ["enwiki2014_AA.txt.xz"], "steps": 3}]
    init = save_checkpoint(tmp_path / "init", start.build(), start.tokenizer, start.pooling, start.max_length,
                           extra={"pretraining": lineage, "hybrid_dense_weight": 0.3})
    config = FinetuneConfig(init_checkpoint=str(init), output_dir=str(tmp_path / "ft"), sources=(), extra_pairs=_toy_pairs(16),
                            batch_size=8, max_steps=2, device="cpu", precision="float32", time_budget_s=3600)
    assert load_checkpoint(finetune(config, show_progress=False)).extra == {"pretraining": lineage}


def _toy_pairs(count: int) -> list[Pair]:
    """Pairs of varied lengths, every third with a hard negative."""
    texts = [a + " " + b for a, b in PAIRS] + [q for q, _ in PAIRS]
    return [Pair(f"{PAIRS[i % 8][0]} {i}", texts[(i * 5) % len(texts)], "toy", PAIRS[(i + 3) % 8][1] if i % 3 == 0 else None)
            for i in range(count)]


def test_texts_are_tokenised_once_and_shapes_stay_static(tmp_path, tiny_checkpoint, monkeypatch):
    calls, shapes = [], set()
    original_encode, original_forward = TextTokenizer.encode, BertModel.forward
    monkeypatch.setattr(TextTokenizer, "encode", lambda self, texts, pairs=None, max_length=None:
                        calls.append(len(texts)) or original_encode(self, texts, pairs, max_length))
    monkeypatch.setattr(BertModel, "forward", lambda self, ids, *rest: shapes.add(tuple(ids.shape)) or original_forward(self, ids, *rest))
    config = FinetuneConfig(init_checkpoint=str(tiny_checkpoint), output_dir=str(tmp_path / "ft"), sources=(), extra_pairs=_toy_pairs(40),
                            batch_size=8, max_steps=12, query_length=12, max_length=20, static_shapes=True, log_every=4,
                            device="cpu", precision="float32", time_budget_s=3600)
    finetune(config, show_progress=False)
    assert len(calls) == 2  # one call for the queries, one for the passages, however many steps ran
    cache = {}
    for stage in range(2):  # a recipe's stages share a cache: the second tokenises nothing
        finetune(replace(config, output_dir=str(tmp_path / f"stage{stage}"), token_cache=cache, max_steps=2), show_progress=False)
    assert len(calls) == 4
    assert shapes == {(8, 12), (8, 20)}  # queries, and passages (positives and the negative slots)
    log = [json.loads(line) for line in (tmp_path / "ft" / "finetune_log.jsonl").read_text().splitlines()]
    assert log[0]["negative_slots"] == 8 and log[0]["static_shapes"] is True
    assert log[-1]["step"] == 12 and all("pairs_per_s" in r for r in log if "step" in r and "event" not in r)


def test_on_the_cpu_a_batch_is_cut_to_its_longest_text(tmp_path, tiny_checkpoint, monkeypatch):
    widths = []
    original_forward = BertModel.forward
    monkeypatch.setattr(BertModel, "forward", lambda self, ids, *rest: widths.append(ids.shape[1]) or original_forward(self, ids, *rest))
    config = FinetuneConfig(init_checkpoint=str(tiny_checkpoint), output_dir=str(tmp_path / "ft"), sources=(), extra_pairs=_toy_pairs(40),
                            batch_size=8, max_steps=4, query_length=30, max_length=30, device="cpu", precision="float32", time_budget_s=3600)
    finetune(config, show_progress=False)
    assert widths and max(widths) < 30  # no toy text fills 30 tokens, so no batch is padded to the cap

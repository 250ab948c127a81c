import numpy as np
import torch

from encoder import Encoder
from encoder.finetune import ContrastiveLoss, FinetuneConfig, finetune
from encoder.pairs import Pair

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


def test_contrastive_loss_rewards_alignment_and_counts_hard_negatives():
    torch.manual_seed(0)
    queries = torch.nn.functional.normalize(torch.randn(6, 16), dim=-1)
    loss = ContrastiveLoss(temperature=0.05, learnable=False)
    aligned = loss(queries, queries.clone())
    shuffled = loss(queries, queries[torch.randperm(6)])
    assert aligned < 0.1 < shuffled
    assert loss(queries, queries.clone(), negatives=queries.clone()) > aligned  # a hard negative as close as the positive
    learnable = ContrastiveLoss(temperature=0.05, learnable=True)
    assert any(p.requires_grad for p in learnable.parameters())

import torch

from encoder.training.contrastive import ContrastiveLoss


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


def test_a_masked_negative_slot_counts_for_nothing():
    torch.manual_seed(0)
    queries = torch.nn.functional.normalize(torch.randn(4, 16), dim=-1)
    positives = torch.nn.functional.normalize(queries + 0.3 * torch.randn(4, 16), dim=-1)
    loss = ContrastiveLoss(temperature=0.05, learnable=False)
    negatives = queries.clone()[:2]  # as close as can be: would raise the loss if counted
    without = loss(queries, positives)
    masked = loss(queries, positives, negatives, torch.tensor([False, False]))
    half = loss(queries, positives, negatives, torch.tensor([True, False]))
    assert torch.isclose(masked, without, atol=1e-5)
    assert half > without + 0.1

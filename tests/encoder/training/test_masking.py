import torch

from encoder.training.loop import compile_static
from encoder.training.masking import IGNORE, MaskingConfig, mask_tokens


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

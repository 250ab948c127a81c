"""Masked-language-model loss of pretrained checkpoints on held-out text, every checkpoint on the same
examples with the same masks, so that runs which trained on different files (or for different
lengths, or continued one another) compare on one scale. A training log's loss cannot do that: it is
measured on each run's own training data, with masks drawn anew.

    .venv/bin/python manage.py prepare-pretraining --corpus ../shared/data/wikipedia_en_2014/enwiki2014_AF.txt.xz \
        --tokenizer models/default/tokenizer.json --out W/heldout --max-length 128 --max-docs 600
    .venv/bin/python bench/heldout_mlm.py --data W/heldout CHECKPOINT [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from encoder import BertForPreTraining, load_checkpoint  # noqa: E402
from encoder.training.pretrain import DeviceData, PretrainConfig, pretraining_loss  # noqa: E402


def heldout_mlm_loss(checkpoint: Path, data: DeviceData, batch_size: int, seed: int) -> float:
    """Mean MLM loss over the whole batches of `data`, in order, the masks drawn from `seed`."""
    loaded = load_checkpoint(checkpoint)
    model = loaded.build(BertForPreTraining).eval()
    tokenizer = loaded.tokenizer
    special = torch.tensor([tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id, tokenizer.unk_id])
    config = PretrainConfig(data_dir="", tokenizer="", output_dir="")
    torch.manual_seed(seed)
    losses = []
    with torch.no_grad():
        for start in range(0, len(data) - batch_size + 1, batch_size):
            rows = torch.arange(start, start + batch_size)
            losses.append(pretraining_loss(model, data.batch(rows), {"mask": tokenizer.mask_id}, special, config)[1].item())
    if not losses:
        raise SystemExit(f"error: {len(data)} held-out examples, fewer than one batch of {batch_size}")
    return sum(losses) / len(losses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="shards of text no checkpoint trained on (prepare-pretraining)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = DeviceData(args.data, torch.device("cpu"), seed=0)
    print("| checkpoint | held-out MLM loss |\n|---|---:|")
    for checkpoint in args.checkpoints:
        print(f"| {checkpoint} | {heldout_mlm_loss(checkpoint, data, args.batch_size, args.seed):.4f} |", flush=True)


if __name__ == "__main__":
    main()

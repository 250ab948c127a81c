"""A uniform model soup (Wortsman et al. 2022): the mean of the weights of models fine-tuned from one
starting checkpoint. Such models stay in one basin of the loss, so their mean is a model too, and often
better than each of them, at no cost at search time. The recipe's variants all start from one checkpoint,
so their soup is one more candidate for the selection, for the price of an evaluation."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path


from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def average_checkpoints(folders: list[str | Path], output: str | Path) -> Path:
    """Write the checkpoint whose every weight is the mean of `folders`' (float32); the first one's
    tokenizer, pooling, length and settings go with it. Checkpoints of different shapes are refused."""
    if len(folders) < 2:
        raise ValueError("a soup needs at least two checkpoints")
    loaded = [load_checkpoint(folder) for folder in folders]
    first = loaded[0]
    for folder, other in zip(folders[1:], loaded[1:]):
        if other.config != first.config or other.weights.keys() != first.weights.keys():
            raise CheckpointError(f"{folder}: not the same network as {folders[0]}, so the two cannot be averaged")
    mean = {key: sum(c.weights[key].float() for c in loaded) / len(loaded) for key in first.weights}
    soup = replace(first, weights=mean)
    return save_checkpoint(output, soup.build(), soup.tokenizer, soup.pooling, soup.max_length, extra=soup.extra)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m encoder.training.soup", description=__doc__)
    parser.add_argument("output", help="folder for the averaged checkpoint")
    parser.add_argument("checkpoints", nargs="+", help="two or more checkpoint folders fine-tuned from one start")
    args = parser.parse_args()
    try:
        print(average_checkpoints(args.checkpoints, args.output))
    except (CheckpointError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()

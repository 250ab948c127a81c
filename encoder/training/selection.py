"""Choosing the recipe's best variant: every variant (and the starting checkpoint) measured on
development sets only (STS-B dev and a BEIR folder's dev split; test sets are for afterwards, on the
CPU), scored relative to the start, and the best one exported as soon as it leads."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..text_encoder import Encoder
from .evaluation import dense_rankings, read_beir, read_stsb, retrieval_metrics, sts_spearman
from .pipeline import log
from .transfer import export

if TYPE_CHECKING:  # the recipe imports this module; its config is only named here
    from .recipe import RecipeConfig

STS_DEV = "stsb/sts-dev.csv"
RETRIEVAL_METRIC = "ndcg@10"


class DevSets:
    """The development sets of the selection, read once: STS-B dev and the dev split of every BEIR folder
    in the data folder (or the one named); a folder without that split is left out, never replaced by
    its test split."""

    def __init__(self, config: RecipeConfig) -> None:
        data = Path(config.data_dir)
        self.config = config
        self.sts = read_stsb(data / STS_DEV) if (data / STS_DEV).is_file() else None
        folders = [Path(config.retrieval_dev)] if config.retrieval_dev else sorted(p.parent for p in data.glob("*/corpus.jsonl"))
        split = config.retrieval_split
        for folder in folders:
            if not (folder / "qrels" / f"{split}.tsv").is_file():
                log(f"{folder}: no qrels/{split}.tsv, not used for selection")
        self.beir = {f"{f.name}-{split}": read_beir(f, split) for f in folders if (f / "qrels" / f"{split}.tsv").is_file()}
        if self.sts is None and not self.beir:
            raise FileNotFoundError(f"{data}: neither {STS_DEV} nor a BEIR folder with a {split} split to select a model with")

    def evaluate(self, checkpoint: str) -> dict[str, float]:
        """STS-B dev Spearman and each BEIR dev set's dense nDCG@10 (exact search), x100."""
        encoder = Encoder.load(checkpoint, precision=self.config.precision, device=None if self.config.device == "auto" else self.config.device)
        figures = {}
        if self.sts:
            figures["stsb-dev"] = sts_spearman(encoder, self.sts, self.config.eval_batch_size)
        for name, beir in self.beir.items():
            rankings = dense_rankings(encoder, beir, k=100, batch_size=self.config.eval_batch_size)
            figures[name] = retrieval_metrics(rankings, beir.qrels)[RETRIEVAL_METRIC]
        del encoder
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return figures


def selection_score(figures: dict[str, float], baseline: dict[str, float]) -> float:
    """The mean of each development figure relative to the starting checkpoint's, so that STS Spearman
    (about 70) does not outweigh nDCG@10 (about 20) merely by its scale."""
    ratios = [figures[name] / baseline[name] for name in baseline if baseline[name] > 0 and name in figures]
    return sum(ratios) / len(ratios) if ratios else 0.0


def publish(config: RecipeConfig, results: dict, exported: str | None) -> str | None:
    """Score the variants so far, write eval.json, and export the best one's checkpoint with its logs
    unless it is the one already exported; returns the exported variant. Called after every variant, so
    a run cut short still leaves its best model and every figure behind."""
    work, out = Path(config.work_dir), Path(config.out_dir)
    variants = results["variants"]
    for figures in variants.values():
        figures["score"] = selection_score(figures, results["init"])
    best = max(variants, key=lambda name: variants[name]["score"], default=None)
    results.update(selected=best, seconds=round(time.time() - config.started, 1))
    for folder in (work, out):
        (folder / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
    if best is None or best == exported:
        return exported
    logs = [*sorted(work.glob(f"{best}/stage*/finetune_log.jsonl")), work / "eval.json"]
    for path in export(Path(variants[best]["checkpoint"]), _named_logs(logs, work), out):
        log(f"exported {path.name} ({path.stat().st_size / 2**20:.1f} MiB)")
    log(f"best so far: {best} (score {variants[best]['score']:.3f} relative to init)")
    return best


def _named_logs(paths: list[Path], work: Path) -> list[Path]:
    """Stage logs share one file name; the archive stores names flat, so each gets its stage's name."""
    named = []
    for path in paths:
        if path.name == "finetune_log.jsonl":
            target = work / f"finetune_log_{path.parent.parent.name}_{path.parent.name}.jsonl"
            target.write_bytes(path.read_bytes())
            path = target
        named.append(path)
    return named


def main() -> None:
    """`python3 -m encoder.training.selection --data DATA CHECKPOINT ...`: the selection's dev figures for
    checkpoints made elsewhere (the shipped model, a soup made afterwards), on the same footing."""
    from .recipe import DEFAULTS  # the recipe imports this module; its config is only needed here

    parser = argparse.ArgumentParser(prog="python3 -m encoder.training.selection", description=main.__doc__)
    parser.add_argument("--data", required=True, help="the recipe's data folder: stsb/sts-dev.csv and a BEIR folder with a dev split")
    parser.add_argument("checkpoints", nargs="+")
    args = parser.parse_args()
    dev = DevSets(replace(DEFAULTS, data_dir=args.data))
    for checkpoint in args.checkpoints:
        print(checkpoint, json.dumps({name: round(value, 2) for name, value in dev.evaluate(checkpoint).items()}))


if __name__ == "__main__":
    main()

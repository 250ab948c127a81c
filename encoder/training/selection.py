"""Choosing the recipe's best variant: every variant (and the starting checkpoint) measured on
development sets only (STS-B dev and the dev or train split of BEIR folders: NFCorpus dev, SciFact's train
claims; test sets are for afterwards, on the CPU), scored relative to the start, and the best one
exported as soon as it leads.

Dense figures alone chose against hybrid search: in the second GPU call, models
ahead on both test sets in hybrid mode were behind on NFCorpus dev dense and lost the choice
(docs/benchmarks.md). So where a folder carries its BM25 lists (`LEXICAL_FILE`, written on the CPU by
scripts/prepare_gpu_data.py, since the GPU machine has no index), hybrid search is a figure too: the
dense and BM25 lists fused as the search service fuses them, at the best dense share on `HYBRID_WEIGHTS`,
as bench/tune_fusion.py picks a model's share on the same queries. Where a folder carries its passages
(`PASSAGES_FILE`), a document is scored by its best passage, as the search service scores it: SciFact's
abstracts run past the 128 tokens a model reads, and their openings alone ranked them 12 points lower."""

from __future__ import annotations

import argparse
import gzip
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..text_encoder import Encoder
from ..fusion import fused_rankings
from .evaluation import ScoredRankings, Spans, dense_lists, jsonl_records, read_beir, read_stsb, retrieval_metrics, sts_spearman
from .pipeline import log
from .rerank_evaluation import read_scored_candidates
from .transfer import export

if TYPE_CHECKING:  # the recipe imports this module; its config is only named here
    from .recipe import RecipeConfig

STS_DEV = "stsb/sts-dev.csv"
RETRIEVAL_METRIC = "ndcg@10"
LEXICAL_FILE = "lexical_lists.jsonl.gz"  # a BEIR folder's judged queries' expanded BM25 top SEARCH_DEPTH, with scores
PASSAGES_FILE = "passages.jsonl.gz"  # each document's passages as the indexer cuts them: {"_id": id, "spans": [[start, end], ...]}
HYBRID = "hybrid"  # the figure: mean hybrid nDCG@10 over the folders with BM25 lists, at the best share
HYBRID_WEIGHT = "hybrid_dense_weight"  # that share: recorded beside the figures, not scored
HYBRID_WEIGHTS = tuple(round(0.05 * step, 2) for step in range(11))  # 0 (BM25 alone) to 0.5
# What each list of a search for 100 documents ranks (indexer/search.py: max(MIN_CANDIDATES, 2 * k)):
# passages for the dense list, documents for BM25 over whole documents. The fusion is judged on lists as deep.
SEARCH_DEPTH = 200


class DevSets:
    """The development sets of the selection, read once: STS-B dev, and each BEIR folder in the data folder
    (or the one named) by the first of `retrieval_split`'s splits it has, with its BM25 lists where it
    carries them; a folder with none of those splits is left out, never replaced by its test split."""

    def __init__(self, config: RecipeConfig) -> None:
        if "test" in config.retrieval_split:
            raise ValueError("a model is never selected on test queries: name dev or train splits")
        data = Path(config.data_dir)
        self.config = config
        self.sts = read_stsb(data / STS_DEV) if (data / STS_DEV).is_file() else None
        folders = [Path(config.retrieval_dev)] if config.retrieval_dev else sorted({p.parent for p in data.glob("*/corpus.jsonl*")})
        self.beir, self.lexical, self.passages = {}, {}, {}
        for folder in folders:
            split = next((s for s in config.retrieval_split if (folder / "qrels" / f"{s}.tsv").is_file()), None)
            if split is None:
                log(f"{folder}: no qrels/{{{','.join(config.retrieval_split)}}}.tsv, not used for selection")
                continue
            name = f"{folder.name}-{split}"
            self.beir[name] = read_beir(folder, split)
            if (folder / LEXICAL_FILE).is_file():
                self.lexical[name] = read_scored_candidates(folder / LEXICAL_FILE)
            if (folder / PASSAGES_FILE).is_file():
                self.passages[name] = read_spans(folder / PASSAGES_FILE)
        if self.sts is None and not self.beir:
            raise FileNotFoundError(f"{data}: neither {STS_DEV} nor a BEIR folder with a {' or '.join(config.retrieval_split)} split to select a model with")

    def evaluate(self, checkpoint: str) -> dict[str, float]:
        """STS-B dev Spearman, each BEIR set's dense nDCG@10 (exact search) and, with BM25 lists, the
        hybrid figure and its dense share (`HYBRID`, `HYBRID_WEIGHT`), x100."""
        encoder = Encoder.load(checkpoint, precision=self.config.precision, device=None if self.config.device == "auto" else self.config.device)
        figures = {}
        if self.sts:
            figures["stsb-dev"] = sts_spearman(encoder, self.sts, self.config.eval_batch_size)
        dense = {}
        for name, beir in self.beir.items():
            dense[name] = dense_lists(encoder, beir, k=SEARCH_DEPTH, batch_size=self.config.eval_batch_size,
                                      passages=self.passages.get(name), passage_depth=SEARCH_DEPTH)
            figures[name] = retrieval_metrics({qid: ids for qid, (ids, _) in dense[name].items()}, beir.qrels)[RETRIEVAL_METRIC]
        if self.lexical:
            figures[HYBRID_WEIGHT], figures[HYBRID] = max(
                ((weight, self.hybrid(dense, weight)) for weight in HYBRID_WEIGHTS), key=lambda pair: (pair[1], -pair[0]))
        del encoder
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return figures

    def hybrid(self, dense: dict[str, ScoredRankings], weight: float) -> float:
        """Mean hybrid nDCG@10 over the sets with BM25 lists, the dense list weighing `weight`."""
        return sum(retrieval_metrics(fused_rankings(dense[name], lexical, weight), self.beir[name].qrels)[RETRIEVAL_METRIC]
                   for name, lexical in self.lexical.items()) / len(self.lexical)


def write_spans(spans: Spans, path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps({"_id": doc, "spans": [list(span) for span in doc_spans]}) + "\n" for doc, doc_spans in spans.items())


def read_spans(path: Path) -> Spans:
    spans = {}
    for number, record in enumerate(jsonl_records(path), start=1):
        try:
            spans[str(record["_id"])] = [(int(start), int(end)) for start, end in record["spans"]]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}, line {number}: expected {{\"_id\": id, \"spans\": [[start, end], ...]}}") from None
    return spans


def selection_score(figures: dict[str, float], baseline: dict[str, float]) -> float:
    """The mean of each development figure relative to the baseline's (the starting checkpoint inside a run,
    the shipped model when deciding what ships), so that STS Spearman
    (about 70) does not outweigh nDCG@10 (about 20) merely by its scale. The hybrid share is a setting
    chosen, not a figure: it is not scored."""
    ratios = [figures[name] / baseline[name] for name in baseline if name != HYBRID_WEIGHT and baseline[name] > 0 and name in figures]
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
    """`python3 -m encoder.training.selection --data DATA [--baseline CHECKPOINT] CHECKPOINT ...`: the selection's
    dev figures for checkpoints made elsewhere (the shipped model, a soup made afterwards), on the same
    footing, and with a baseline each one's score against it (`selection_score`): a candidate replaces the
    shipped model only at 1.0 or more (docs/benchmarks.md, "The selection judges hybrid search too")."""
    from .recipe import DEFAULTS  # the recipe imports this module; its config is only needed here

    parser = argparse.ArgumentParser(prog="python3 -m encoder.training.selection", description=main.__doc__)
    parser.add_argument("--data", required=True, help="the recipe's data folder: stsb/sts-dev.csv and BEIR folders with a dev or train split")
    parser.add_argument("--baseline", help="a checkpoint the others are scored against")
    parser.add_argument("checkpoints", nargs="+")
    args = parser.parse_args()
    dev = DevSets(replace(DEFAULTS, data_dir=args.data))
    baseline = dev.evaluate(args.baseline) if args.baseline else None
    if baseline:
        print(args.baseline, json.dumps({name: round(value, 2) for name, value in baseline.items()}))
    for checkpoint in args.checkpoints:
        figures = dev.evaluate(checkpoint)
        score = {"score": round(selection_score(figures, baseline), 4)} if baseline else {}
        print(checkpoint, json.dumps({name: round(value, 2) for name, value in figures.items()} | score))


if __name__ == "__main__":
    main()

"""Reranker training: our BERT reads `[CLS] query [SEP] passage [SEP]` and its next-sentence head scores
the pair (`BertForPairScoring`); it learns to put a query's positive above its hard negatives.

Two losses over a group (one positive, `negatives` hard negatives), chosen by `loss`:
- pointwise: binary cross-entropy on each input, positive 1 and negatives 0 (monoBERT, Nogueira & Cho
  2019), so a score is calibrated on its own;
- listwise: softmax cross-entropy over the group's scores with the positive as the answer (the
  "localised contrastive estimation" of Gao et al. 2021), which only cares about the order within a
  group, the only thing reranking uses.

Every input is tokenised before the clock starts (`rerank_groups`); a step only indexes the tables on
the device. On a GPU the width is fixed, so every step has one shape and nothing waits on the CPU; on
the CPU a batch is cut to its longest input, since there padding costs real time. The budget and the
learning-rate schedule are those of fine-tuning (`loop`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..checkpoint import load_checkpoint, save_checkpoint
from ..cross_encoder import FIRST_STAGE_WEIGHT_KEY, TASK, CrossEncoder
from ..flags import setting
from ..model import BertForPairScoring
from ..precision import PRECISIONS, autocast
from .evaluation import BeirSet
from .loop import Budget, BudgetedSteps, LossWindow, MetricsLog, make_optimizer, optimizer_step, start_run
from .pairs import Pair, read_pairs
from .rerank_evaluation import Rankings, best_first_stage_weight, read_rerank_dev, rerank_table
from .rerank_groups import Group, GroupTensors, group_pairs, tokenize_groups

LOSSES = ("listwise", "pointwise")
DEV_DEPTHS = (10, 30)  # reranked top N on the dev queries: 30 is what search reranks by default
FIRST_STAGE_WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))  # blends tried on the dev queries (1: the first stage alone)


@dataclass
class RerankerConfig:
    """One reranker training run; the `train-reranker` command's flags come from here."""

    init_checkpoint: str = setting(help="checkpoint folder whose backbone (and NSP head, if it has one) starts the reranker", flag="--init")
    output_dir: str = setting(help="folder for the log and the checkpoint", flag="--out")
    pairs_files: tuple[str, ...] = setting((), "pairs files with hard negatives, one line per negative (scripts/mine_rerank_pairs.py)", flag="--pairs")
    time_budget_s: float = setting(600.0, "training seconds", flag="--budget")
    max_steps: int | None = setting(None, "stop after this many steps, whatever time is left")
    loss: str = setting("listwise", "listwise: softmax over a group; pointwise: each input on its own", choices=LOSSES)
    negatives: int = setting(7, "hard negatives per query (short groups are topped up with other queries' positives)")
    batch_size: int = setting(8, "groups per step (each 1 + negatives inputs)")
    lr: float = setting(1e-4, "peak learning rate")
    warmup_fraction: float = setting(0.1, "share of the budget over which the learning rate warms up")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    max_length: int = setting(192, "tokens per (query, passage) input while training")
    output_max_length: int | None = setting(None, "max length stored in the checkpoint (default: the init checkpoint's)")
    save_dtype: str = setting("float32", "float16 halves the checkpoint (the shipped models are stored so)", choices=("float32", "float16"))
    log_every: int = setting(20, "steps between log lines")
    device: str = setting("auto", "cpu, cuda, cuda:N, or auto (CUDA when there is one)")
    precision: str = setting("auto", "number format of the matrix products", choices=PRECISIONS)
    threads: int | None = setting(None, "CPU threads torch may use (default: torch's choice)")
    seed: int = setting(0, "seed of the group order, the top-up negatives and a fresh head")
    dev_dir: str | None = setting(None, "BEIR folder holding rerank_candidates.jsonl and qrels/dev.tsv (scripts/prepare_gpu_data.py "
                                  "writes one): the trained reranker's gain over that first stage goes to the log and eval.json", flag="--dev")
    extra_groups: list[Group] = field(default_factory=list, repr=False)  # groups given in code (tests, experiments)


def gather_groups(config: RerankerConfig) -> list[Group]:
    pairs: list[Pair] = []
    for path in config.pairs_files:
        pairs += read_pairs(Path(path))
    return list(config.extra_groups) + group_pairs(pairs)


def group_scores(model: BertForPairScoring, data: GroupTensors, rows: torch.Tensor, static: bool) -> torch.Tensor:
    """Scores (groups, 1 + negatives) of the groups at `rows` (device indices), with gradients."""
    ids, type_ids, lengths = (t[rows].flatten(0, 1) for t in (data.ids, data.type_ids, data.lengths))
    if not static:  # reading the longest length syncs with the device: only the CPU can afford it per step
        longest = int(lengths.max())
        ids, type_ids = ids[:, :longest], type_ids[:, :longest]
    mask = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]
    return model(ids.long(), type_ids.long(), mask).float().view(len(rows), -1)


def rerank_loss(scores: torch.Tensor, loss: str) -> torch.Tensor:
    """The loss of groups' scores, the positive in column 0 (see the module's docstring)."""
    if loss == "listwise":
        return F.cross_entropy(scores, torch.zeros(len(scores), dtype=torch.long, device=scores.device))
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1.0
    return F.binary_cross_entropy_with_logits(scores, labels)


def log_dev_figures(scorer: CrossEncoder, dev: tuple[BeirSet, Rankings], dev_dir: str, out: Path, log: MetricsLog) -> float:
    """Score the dev queries' first-stage candidates (at the training width) and write what reranking
    their top N does to nDCG@10 and MRR@10, alone and blended with the first stage's order, so a run
    can be judged before anything is copied back; returns the blend best on these queries at the
    depth search reranks by default (the deepest of DEV_DEPTHS), which the checkpoint keeps."""
    started = time.perf_counter()
    table, ms = rerank_table(scorer, *dev, DEV_DEPTHS, batch_size=64, first_stage_weights=FIRST_STAGE_WEIGHTS)
    chosen = best_first_stage_weight(table, max(DEV_DEPTHS), FIRST_STAGE_WEIGHTS)
    figures = {"dev_dir": dev_dir, "ms_per_query": round(ms, 1), "eval_s": round(time.perf_counter() - started, 1),
               FIRST_STAGE_WEIGHT_KEY: chosen, **{name: {k: round(v, 2) for k, v in row.items()} for name, row in table.items()}}
    log.write({"event": "dev", **figures})
    (out / "eval.json").write_text(json.dumps(figures, indent=1) + "\n")
    return chosen


def train_reranker(config: RerankerConfig, show_progress: bool = True) -> Path:
    """Train, write `output_dir/checkpoint` (a `CrossEncoder` folder), return its path."""
    if config.loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {config.loss!r}")
    if config.threads:
        torch.set_num_threads(config.threads)
    groups = gather_groups(config)  # before the run folder exists: bad input leaves nothing behind
    dev = read_rerank_dev(Path(config.dev_dir)) if config.dev_dir else None
    if len(groups) < config.batch_size:
        raise ValueError(f"{len(groups)} training groups, fewer than one batch of {config.batch_size}")
    checkpoint = load_checkpoint(config.init_checkpoint)
    out, device, dtype = start_run(config.output_dir, config.device, config.precision, config.seed)
    model = checkpoint.build(BertForPairScoring).to(device).train()
    tokenizer = checkpoint.tokenizer
    output_max_length = config.output_max_length or checkpoint.max_length
    width = min(config.max_length, model.bert.config.max_position_embeddings)
    log = MetricsLog(out / "reranker_log.jsonl")
    started = time.perf_counter()
    data = tokenize_groups(tokenizer, groups, config.negatives, width, config.seed).to(device)
    static = device.type == "cuda"
    sources: dict[str, int] = {}
    for group in groups:
        sources[group.source] = sources.get(group.source, 0) + 1
    log.write({"event": "start", "groups": len(groups), "negatives": config.negatives, "loss": config.loss,
               "hard_negatives": sum(min(len(g.negatives), config.negatives) for g in groups), "device": str(device),
               "dtype": str(dtype), "tokenize_s": round(time.perf_counter() - started, 2), "width": width,
               "mean_tokens": round(float(data.lengths.float().mean()), 1), "batch_size": config.batch_size,
               "threads": torch.get_num_threads(), **{f"groups_{k}": v for k, v in sorted(sources.items())}})

    optimizer = make_optimizer(model, config.lr, config.weight_decay, (0.9, 0.999), 1e-8, device)
    generator = torch.Generator().manual_seed(config.seed)
    steps = BudgetedSteps(Budget(config.time_budget_s, config.max_steps), len(data), config.batch_size, config.lr,
                          config.warmup_fraction, generator, device, "train-reranker", show_progress)
    window = LossWindow(device)
    for step in steps:
        with autocast(device, dtype):
            loss = rerank_loss(group_scores(model, data, step.rows, static), config.loss)
        optimizer_step(model, optimizer, loss, step.lr, grad_clip=1.0)
        window.add(loss)
        if step.number % config.log_every == 0:
            (mean_loss,), groups_per_s = window.take(config.batch_size)
            log.write({"step": step.number, "elapsed_s": round(steps.budget.elapsed, 2), "epoch": step.epoch, "lr": step.lr,
                       f"{config.loss}_loss": mean_loss, "pairs_per_s": groups_per_s * data.group_size})
    log.write({"event": "end", "step": steps.steps, "elapsed_s": round(steps.budget.elapsed, 2), "groups_seen": steps.steps * config.batch_size,
               "passes": steps.passes})
    blend = 0.0
    if dev:
        tokenizer.set_max_length(width)  # the run's own tokenizer: the dev figures are at the width it learnt at
        blend = log_dev_figures(CrossEncoder(model, tokenizer, config.precision, device), dev, config.dev_dir, out, log)
    return save_checkpoint(out / "checkpoint", model.cpu().eval(), tokenizer, max_length=output_max_length,
                           dtype=getattr(torch, config.save_dtype),
                           extra={"task": TASK, "loss": config.loss, FIRST_STAGE_WEIGHT_KEY: blend})

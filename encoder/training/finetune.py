"""Pair fine-tuning: pull the pooled vectors of related texts together, push the rest of the batch away.

Symmetric InfoNCE with in-batch negatives (as in SimCSE / sentence-transformers'
MultipleNegativesRankingLoss): for a batch of (query, positive) pairs, every other positive in the
batch is a negative for a query, and vice versa; a pair's hard negative, when it has one, joins the
candidates of every query. Pooling is the same mean pooling the `Encoder` uses at search time, so
what is trained is exactly what is served.

Every text is tokenised once, before the clock starts (`pair_tensors`); a step only indexes the id
tables on the device. On a GPU the widths are fixed (`query_length`, `max_length`), so every step has
the same shapes, nothing waits on the CPU, and `torch.compile` traces one graph; on the CPU a batch is
cut to its longest text, because there padding costs real time and shapes do not matter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import POOLING_MODES
from ..flags import setting
from ..model import BertModel
from ..precision import PRECISIONS, autocast
from .contrastive import ContrastiveLoss, batch_loss
from .loop import Budget, BudgetedSteps, LossWindow, MetricsLog, compile_static, make_optimizer, optimizer_step, start_run
from .meters import StepTimer, gpu_utilisation
from .pair_selection import evaluation_pairs, pair_key, select_sources
from .pair_sources import DEFAULT_SOURCES, load_pairs
from .pair_tensors import TokenCache, negative_slots, tokenize_pairs
from .pairs import Pair, read_pairs
from .paths import DEFAULT_DATA_DIR
from .pretrain import LINEAGE_KEY


@dataclass
class FinetuneConfig:
    """One fine-tuning run from a pretrained checkpoint; the `finetune` command's flags come from here."""

    init_checkpoint: str = setting(help="checkpoint folder to start from (e.g. pretrain's OUT/checkpoint)", flag="--init")
    output_dir: str = setting(help="folder for the log and the checkpoint", flag="--out")
    data_dir: str = setting(str(DEFAULT_DATA_DIR), "folder holding stsb/, sick/, msrp/, …")
    sources: tuple[str, ...] = setting(DEFAULT_SOURCES, "pair sources read from the data folder")
    pairs_files: tuple[str, ...] = setting((), "pairs saved by `pairs.write_pairs` (what the GPU machine trains on)")
    wikipedia_files: tuple[str, ...] = setting((), "WikiExtractor files for self-supervised pairs", flag="--wikipedia")
    max_wikipedia_pairs: int = setting(0, "pairs drawn from the Wikipedia files", flag="--wikipedia-pairs")
    time_budget_s: float = setting(600.0, "training seconds", flag="--budget")
    max_steps: int | None = setting(None, "stop after this many steps, whatever time is left")
    batch_size: int = setting(64, "pairs per step")
    lr: float = setting(1e-4, "peak learning rate")
    warmup_fraction: float = setting(0.1, "share of the budget over which the learning rate warms up")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    temperature: float = setting(0.05, "softmax temperature of the contrastive loss")
    learn_temperature: bool = setting(False, "learn the temperature rather than keep it fixed")
    hard_negatives: bool = setting(True, "use the hard negatives of the pairs that have one")
    max_length: int = setting(128, "tokens per text while training")
    query_length: int | None = setting(None, "tokens per query while training (default: max_length)")
    source_prefixes: tuple[str, ...] = setting((), 'keep pairs whose source starts with one of these ("!p": drop those); none keeps all')
    static_shapes: bool | None = setting(None, "fixed batch widths (default: on CUDA only)")
    compile: bool = setting(False, "torch.compile the model (dynamic=False; needs static shapes to pay off)")
    output_max_length: int | None = setting(None, "max length stored in the checkpoint (default: the init checkpoint's)")
    pooling: str = setting("mean", "how token vectors become one vector", choices=POOLING_MODES)
    save_dtype: str = setting("float32", "float16 halves the checkpoint (the shipped model is stored so)", choices=("float32", "float16"))
    log_every: int = setting(20, "steps between log lines")
    device: str = setting("auto", "cpu, cuda, cuda:N, or auto (CUDA when there is one)")
    precision: str = setting("auto", "number format of the matrix products", choices=PRECISIONS)
    seed: int = setting(0, "seed of the pair order and of the initialisation")
    extra_pairs: list[Pair] = field(default_factory=list, repr=False)  # pairs given in code (tests, experiments)
    token_cache: TokenCache | None = field(default=None, repr=False)  # shared by the stages of a recipe


def gather_pairs(config: FinetuneConfig) -> tuple[list[Pair], int]:
    """Training pairs minus any that is also an evaluation pair; returns (pairs, how many were dropped).

    The sources overlap the benchmarks (STS-B's MSRpar sentences come from MSRP, for one), so a
    train-split pair can still be a test pair: it is dropped, or the STS figures would be inflated.
    """
    pairs = list(config.extra_pairs)
    for path in config.pairs_files:
        pairs += read_pairs(Path(path))
    if config.sources or config.max_wikipedia_pairs:
        pairs += load_pairs(Path(config.data_dir), config.sources, config.wikipedia_files, config.max_wikipedia_pairs, config.seed)
    pairs = select_sources(pairs, config.source_prefixes)
    held_out = evaluation_pairs(Path(config.data_dir))
    kept = [p for p in pairs if pair_key(p.query, p.positive) not in held_out]
    return kept, len(pairs) - len(kept)


def finetune(config: FinetuneConfig, show_progress: bool = True) -> Path:
    """Fine-tune, write `output_dir/checkpoint` (the encoder only, no pretraining heads), return its path."""
    out, device, dtype = start_run(config.output_dir, config.device, config.precision, config.seed)
    checkpoint = load_checkpoint(config.init_checkpoint)
    model = checkpoint.build(BertModel).to(device).train()
    tokenizer = checkpoint.tokenizer
    output_max_length = config.output_max_length or checkpoint.max_length
    positions = model.config.max_position_embeddings
    passage_length = min(config.max_length, positions)
    query_length = min(config.query_length or config.max_length, positions)
    pairs, dropped = gather_pairs(config)
    if len(pairs) < config.batch_size:
        raise ValueError(f"{len(pairs)} training pairs, fewer than one batch of {config.batch_size}")
    log = MetricsLog(out / "finetune_log.jsonl")
    started = time.perf_counter()
    data = tokenize_pairs(tokenizer, pairs, query_length, passage_length, config.hard_negatives, config.token_cache).to(device)
    static = config.static_shapes if config.static_shapes is not None else device.type == "cuda"
    slots = negative_slots(data, config.batch_size)
    sources: dict[str, int] = {}
    for pair in pairs:
        sources[pair.source] = sources.get(pair.source, 0) + 1
    log.write({"event": "start", "pairs": len(pairs), "dropped_as_evaluation_pairs": dropped, "device": str(device), "dtype": str(dtype),
               "tokenize_s": round(time.perf_counter() - started, 2), "distinct_queries": len(data.queries.ids),
               "distinct_passages": len(data.passages.ids), "query_length": query_length, "passage_length": passage_length,
               "batch_size": config.batch_size, "negative_slots": slots, "static_shapes": static,
               **{f"pairs_{k}": v for k, v in sorted(sources.items())}})

    loss_fn = ContrastiveLoss(config.temperature, config.learn_temperature).to(device)
    optimizer = make_optimizer(nn.ModuleList([model, loss_fn]), config.lr, config.weight_decay, (0.9, 0.999), 1e-8, device)
    forward = compile_static(model) if config.compile else model
    generator = torch.Generator().manual_seed(config.seed)
    if config.compile:  # trace and compile every shape before the clock starts; the gradients are thrown away
        with autocast(device, dtype):
            batch_loss(forward, loss_fn, data, torch.arange(config.batch_size, device=device), slots, config.pooling, static).backward()
        optimizer.zero_grad(set_to_none=True)
        log.write({"event": "compiled", "seconds": round(time.perf_counter() - started, 2)})
    steps = BudgetedSteps(Budget(config.time_budget_s, config.max_steps), len(data), config.batch_size, config.lr,
                          config.warmup_fraction, generator, device, "finetune", show_progress)
    timer = StepTimer(device)
    window = LossWindow(device)
    for step in steps:
        timer.start()
        with autocast(device, dtype):
            loss = batch_loss(forward, loss_fn, data, step.rows, slots, config.pooling, static)
        optimizer_step(model, optimizer, loss, step.lr, grad_clip=1.0)
        timer.stop()
        window.add(loss)
        if step.number % config.log_every == 0:
            (mean_loss,), pairs_per_s = window.take(config.batch_size)
            log.write({"step": step.number, "elapsed_s": round(steps.budget.elapsed, 2), "epoch": step.epoch, "lr": step.lr,
                       "contrastive_loss": mean_loss, "temperature": 1.0 / loss_fn.log_scale.exp().item(),
                       "pairs_per_s": pairs_per_s, "gpu_busy": timer.busy_share(), "gpu_utilisation": gpu_utilisation(device)})
    log.write({"event": "end", "step": steps.steps, "elapsed_s": round(steps.budget.elapsed, 2), "pairs_seen": steps.steps * config.batch_size,
               "passes": steps.passes})
    # The pretraining the model holds stays on record; settings tuned for the starting model do not.
    lineage = {LINEAGE_KEY: checkpoint.extra[LINEAGE_KEY]} if LINEAGE_KEY in checkpoint.extra else {}
    return save_checkpoint(out / "checkpoint", model.cpu(), tokenizer, pooling=config.pooling, max_length=output_max_length,
                           dtype=getattr(torch, config.save_dtype), extra=lineage)

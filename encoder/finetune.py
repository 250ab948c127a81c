"""Pair fine-tuning: pull the pooled vectors of related texts together, push the rest of the batch away.

Symmetric InfoNCE with in-batch negatives (as in SimCSE / sentence-transformers'
MultipleNegativesRankingLoss): for a batch of (query, positive) pairs, every other positive in the
batch is a negative for a query, and vice versa; a pair's hard negative, when it has one, joins the
candidates of every query. Pooling is the same mean pooling the `Encoder` uses at search time, so
what is trained is exactly what is served.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .evaluation import STS_SETS
from .model import BertModel
from .pairs import Pair, load_pairs, read_pairs
from .precision import autocast
from .text_encoder import pool
from .tokenizer import TextTokenizer
from .training import (
    Budget,
    MetricsLog,
    learning_rate,
    make_optimizer,
    optimizer_step,
    start_run,
)

DEFAULT_SOURCES = ("stsb", "sick", "msrp", "trecqa", "scifact", "climate_fever")


@dataclass
class FinetuneConfig:
    """One fine-tuning run from a pretrained checkpoint."""

    init_checkpoint: str
    output_dir: str
    data_dir: str = "../shared/data"
    sources: tuple[str, ...] = DEFAULT_SOURCES
    pairs_files: tuple[str, ...] = ()  # pairs saved by `pairs.write_pairs` (what the GPU machine trains on)
    wikipedia_files: tuple[str, ...] = ()
    max_wikipedia_pairs: int = 0
    time_budget_s: float = 600.0
    max_steps: int | None = None
    batch_size: int = 64
    lr: float = 1e-4
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    temperature: float = 0.05
    learn_temperature: bool = False
    hard_negatives: bool = True
    max_length: int = 128  # per text during training
    output_max_length: int | None = None  # max length written into the checkpoint (default: the init one's)
    pooling: str = "mean"
    save_dtype: str = "float32"  # "float16" halves the checkpoint (the shipped model is stored so)
    log_every: int = 20
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    extra_pairs: list[Pair] = field(default_factory=list, repr=False)  # pairs given in code (tests, experiments)


class ContrastiveLoss(nn.Module):
    """Symmetric InfoNCE over in-batch (and hard) negatives, with a fixed or learnable temperature."""

    def __init__(self, temperature: float, learnable: bool) -> None:
        super().__init__()
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def forward(self, queries: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None = None) -> torch.Tensor:
        scale = self.log_scale.clamp(max=math.log(100.0)).exp()  # cap at 1/0.01, as CLIP does
        targets = torch.arange(len(queries), device=queries.device)
        candidates = positives if negatives is None else torch.cat([positives, negatives])
        query_to_text = F.cross_entropy(scale * queries @ candidates.T, targets)
        text_to_query = F.cross_entropy(scale * positives @ queries.T, targets)
        return (query_to_text + text_to_query) / 2


def embed(model: BertModel, tokenizer: TextTokenizer, texts: list[str], pooling: str, device: torch.device) -> torch.Tensor:
    """Unit vectors for a list of texts, with gradients (the training twin of `Encoder.encode`)."""
    batch = tokenizer.pad(tokenizer.encode(texts)).to(device)
    hidden = model(batch.input_ids, batch.token_type_ids, batch.attention_mask)
    return F.normalize(pool(hidden.float(), batch.attention_mask, pooling), dim=-1)


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
    held_out = evaluation_pairs(Path(config.data_dir))
    kept = [p for p in pairs if _pair_key(p.query, p.positive) not in held_out]
    return kept, len(pairs) - len(kept)


def evaluation_pairs(data_dir: Path) -> set[frozenset[str]]:
    """Every sentence pair of the STS evaluation sets present under data_dir, order-free and lower-cased."""
    held_out: set[frozenset[str]] = set()
    for name, (reader, relative) in STS_SETS.items():
        if (data_dir / relative).is_file():
            held_out.update(_pair_key(a, b) for a, b, _ in reader(data_dir / relative))
    return held_out


def _pair_key(a: str, b: str) -> frozenset[str]:
    return frozenset((a.strip().lower(), b.strip().lower()))


def finetune(config: FinetuneConfig, show_progress: bool = True) -> Path:
    """Fine-tune, write `output_dir/checkpoint` (the encoder only, no pretraining heads), return its path."""
    out, device, dtype = start_run(config.output_dir, config.device, config.precision, config.seed)
    checkpoint = load_checkpoint(config.init_checkpoint)
    model = checkpoint.build(BertModel).to(device).train()
    tokenizer = checkpoint.tokenizer
    output_max_length = config.output_max_length or checkpoint.max_length
    tokenizer.set_max_length(min(config.max_length, model.config.max_position_embeddings))
    pairs, dropped = gather_pairs(config)
    if len(pairs) < config.batch_size:
        raise ValueError(f"{len(pairs)} training pairs, fewer than one batch of {config.batch_size}")
    loss_fn = ContrastiveLoss(config.temperature, config.learn_temperature).to(device)
    optimizer = make_optimizer(nn.ModuleList([model, loss_fn]), config.lr, config.weight_decay, (0.9, 0.999), 1e-8, device)
    log = MetricsLog(out / "finetune_log.jsonl")
    sources: dict[str, int] = {}
    for pair in pairs:
        sources[pair.source] = sources.get(pair.source, 0) + 1
    log.write({"event": "start", "pairs": len(pairs), "dropped_as_evaluation_pairs": dropped, **{f"pairs_{k}": v for k, v in sorted(sources.items())}})

    rng = random.Random(config.seed)
    budget = Budget(config.time_budget_s, config.max_steps)
    step, epoch, loss_sum = 0, 0, 0.0
    with tqdm(total=round(config.time_budget_s), unit="s", desc="finetune", disable=not show_progress) as bar:
        while not budget.done(step):
            order = list(range(len(pairs)))
            rng.shuffle(order)
            for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
                if budget.done(step):
                    break
                batch = [pairs[i] for i in order[start:start + config.batch_size]]
                lr = learning_rate(budget.progress(step), config.lr, config.warmup_fraction)
                with autocast(device, dtype):
                    loss = _batch_loss(model, tokenizer, loss_fn, batch, config, device)
                optimizer_step(model, optimizer, loss, lr, grad_clip=1.0)
                step += 1
                budget.tick()
                loss_sum += loss.item()
                if step % config.log_every == 0:
                    log.write({"step": step, "elapsed_s": round(budget.elapsed, 2), "epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                               "contrastive_loss": loss_sum / config.log_every, "temperature": 1.0 / loss_fn.log_scale.exp().item()})
                    loss_sum = 0.0
                    bar.n = min(round(budget.elapsed), bar.total)
                    bar.refresh()
            epoch += 1
    log.write({"event": "end", "step": step, "elapsed_s": round(budget.elapsed, 2)})
    tokenizer.set_max_length(output_max_length)
    return save_checkpoint(out / "checkpoint", model.cpu(), tokenizer, pooling=config.pooling, max_length=output_max_length,
                           dtype=getattr(torch, config.save_dtype))


def _batch_loss(model: BertModel, tokenizer: TextTokenizer, loss_fn: ContrastiveLoss, batch: list[Pair],
                config: FinetuneConfig, device: torch.device) -> torch.Tensor:
    queries = embed(model, tokenizer, [p.query for p in batch], config.pooling, device)
    positives = embed(model, tokenizer, [p.positive for p in batch], config.pooling, device)
    hard = [p.negative for p in batch if p.negative] if config.hard_negatives else []
    negatives = embed(model, tokenizer, hard, config.pooling, device) if hard else None
    return loss_fn(queries, positives, negatives)

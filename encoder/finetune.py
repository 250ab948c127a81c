"""Pair fine-tuning: pull the pooled vectors of related texts together, push the rest of the batch away.

Symmetric InfoNCE with in-batch negatives (as in SimCSE / sentence-transformers'
MultipleNegativesRankingLoss): for a batch of (query, positive) pairs, every other positive in the
batch is a negative for a query, and vice versa; a pair's hard negative, when it has one, joins the
candidates of every query. Pooling is the same mean pooling the `Encoder` uses at search time, so
what is trained is exactly what is served.

Every text is tokenised once, before the clock starts, into padded id matrices (one for queries, one for
passages: positives and hard negatives) that move to the device once; a step only indexes them there.
On a GPU the widths are fixed (`query_length`, `max_length`), so every step has the same shapes, nothing
waits on the CPU, and `torch.compile` traces one graph; on the CPU a batch is cut to its longest text,
because there padding costs real time and shapes do not matter.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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
    compile_static,
    learning_rate,
    make_optimizer,
    optimizer_step,
    start_run,
)

CHARS_PER_TOKEN_CLIP = 16
TokenCache = dict[tuple[int, int], dict[str, np.ndarray]]  # (tokenizer, width) -> text -> token ids
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
    max_length: int = 128  # tokens per passage (positive, hard negative) during training
    query_length: int | None = None  # tokens per query during training (default: max_length)
    source_prefixes: tuple[str, ...] = ()  # keep pairs whose source starts with one of these ("!p": drop those); () keeps all
    static_shapes: bool | None = None  # fixed batch widths; None: on CUDA only
    compile: bool = False  # torch.compile the model (dynamic=False; needs static shapes to pay off)
    output_max_length: int | None = None  # max length written into the checkpoint (default: the init one's)
    pooling: str = "mean"
    save_dtype: str = "float32"  # "float16" halves the checkpoint (the shipped model is stored so)
    log_every: int = 20
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    extra_pairs: list[Pair] = field(default_factory=list, repr=False)  # pairs given in code (tests, experiments)
    token_cache: TokenCache | None = field(default=None, repr=False)  # shared by the stages of a recipe


class ContrastiveLoss(nn.Module):
    """Symmetric InfoNCE over in-batch (and hard) negatives, with a fixed or learnable temperature."""

    def __init__(self, temperature: float, learnable: bool) -> None:
        super().__init__()
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def forward(self, queries: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None = None,
                negative_mask: torch.Tensor | None = None) -> torch.Tensor:
        """`negative_mask` marks which rows of `negatives` are real: a batch of fixed shape carries a fixed
        number of negative slots, and an empty slot must not count as a candidate."""
        scale = self.log_scale.clamp(max=math.log(100.0)).exp()  # cap at 1/0.01, as CLIP does
        targets = torch.arange(len(queries), device=queries.device)
        logits = scale * queries @ positives.T
        if negatives is not None:
            negative_logits = scale * queries @ negatives.T
            if negative_mask is not None:
                negative_logits = negative_logits.masked_fill(~negative_mask[None, :], float("-inf"))
            logits = torch.cat([logits, negative_logits], dim=1)
        query_to_text = F.cross_entropy(logits, targets)
        text_to_query = F.cross_entropy(scale * positives @ queries.T, targets)
        return (query_to_text + text_to_query) / 2


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
    kept = [p for p in pairs if _pair_key(p.query, p.positive) not in held_out]
    return kept, len(pairs) - len(kept)


def select_sources(pairs: list[Pair], prefixes: tuple[str, ...]) -> list[Pair]:
    """The pairs whose source starts with one of the plain prefixes (all, when there are none) and with
    none of the "!"-marked ones: how a stage or an ablation names its data ("!mined:" = all but mined)."""
    wanted = tuple(p for p in prefixes if not p.startswith("!"))
    unwanted = tuple(p[1:] for p in prefixes if p.startswith("!"))
    return [p for p in pairs if (not wanted or p.source.startswith(wanted)) and not (unwanted and p.source.startswith(unwanted))]


def evaluation_pairs(data_dir: Path) -> set[frozenset[str]]:
    """Every sentence pair of the STS evaluation sets present under data_dir, order-free and lower-cased."""
    held_out: set[frozenset[str]] = set()
    for name, (reader, relative) in STS_SETS.items():
        if (data_dir / relative).is_file():
            held_out.update(_pair_key(a, b) for a, b, _ in reader(data_dir / relative))
    return held_out


def _pair_key(a: str, b: str) -> frozenset[str]:
    return frozenset((a.strip().lower(), b.strip().lower()))




@dataclass
class TokenTable:
    """Distinct texts tokenised once: ids (n, width) padded with [PAD], and each text's length."""

    ids: torch.Tensor
    lengths: torch.Tensor

    def to(self, device: torch.device) -> "TokenTable":
        return TokenTable(self.ids.to(device), self.lengths.to(device))


def token_table(tokenizer: TextTokenizer, texts: list[str], width: int, cache: TokenCache | None = None) -> TokenTable:
    """Distinct texts as a padded id table. The texts not in `cache` go to the Rust tokenizer in one batch
    call (it uses every core), truncated to `width`; a recipe's stages share one cache, since they share
    most of their texts.

    Texts are first cut to CHARS_PER_TOKEN_CLIP characters per token of `width`: a word piece is about
    five characters, so the cut falls past the truncation point, and tokenising a whole Wikipedia
    paragraph to keep its first 128 tokens would cost several times the work."""
    tokenizer.set_max_length(width)
    known = {} if cache is None else cache.setdefault((hash(tokenizer.tokenizer.to_str()), width), {})
    missing = [text for text in texts if text not in known]
    if missing:
        for text, encoding in zip(missing, tokenizer.encode([text[: width * CHARS_PER_TOKEN_CLIP] for text in missing])):
            known[text] = np.asarray(encoding.ids, dtype=np.int32)  # int32 halves the device copy
    ids = np.full((len(texts), width), tokenizer.pad_id, dtype=np.int32)
    lengths = np.empty(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        lengths[row] = len(known[text])
        ids[row, : lengths[row]] = known[text]
    return TokenTable(torch.from_numpy(ids), torch.from_numpy(lengths))


@dataclass
class PairTensors:
    """The training pairs as indices into two token tables: queries, and passages (positives and hard
    negatives share one table, as they share one width). `negatives[i]` is -1 when pair i has none."""

    queries: TokenTable
    passages: TokenTable
    query_rows: torch.Tensor
    positive_rows: torch.Tensor
    negative_rows: torch.Tensor

    def __len__(self) -> int:
        return len(self.query_rows)

    def to(self, device: torch.device) -> "PairTensors":
        return PairTensors(self.queries.to(device), self.passages.to(device),
                           *(t.to(device) for t in (self.query_rows, self.positive_rows, self.negative_rows)))


def tokenize_pairs(tokenizer: TextTokenizer, pairs: list[Pair], query_length: int, passage_length: int, hard_negatives: bool,
                   cache: TokenCache | None = None) -> PairTensors:
    """Tokenise every distinct text once (labelled sets repeat an abstract or an answer across pairs)."""
    query_index: dict[str, int] = {}
    passage_index: dict[str, int] = {}
    query_rows = [query_index.setdefault(p.query, len(query_index)) for p in pairs]
    positive_rows = [passage_index.setdefault(p.positive, len(passage_index)) for p in pairs]
    negative_rows = [passage_index.setdefault(p.negative, len(passage_index)) if hard_negatives and p.negative else -1 for p in pairs]
    return PairTensors(token_table(tokenizer, list(query_index), query_length, cache),
                       token_table(tokenizer, list(passage_index), passage_length, cache),
                       torch.tensor(query_rows), torch.tensor(positive_rows), torch.tensor(negative_rows))


def negative_slots(data: PairTensors, batch_size: int) -> int:
    """How many hard negatives a batch carries: a fixed number, so that shapes stay static, sized a
    quarter above the expected count (the pairs with a negative rarely exceed it) and rounded to 8."""
    share = float((data.negative_rows >= 0).float().mean())
    if share == 0:
        return 0
    return min(batch_size, 8 * math.ceil(batch_size * share * 1.25 / 8))


def _texts(table: TokenTable, rows: torch.Tensor, static: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of some rows of a table; cut to their longest text unless shapes are static
    (reading the longest length is a host-device sync, which only the CPU can afford per step)."""
    ids, lengths = table.ids[rows], table.lengths[rows]
    if not static:
        ids = ids[:, : int(lengths.max())]
    mask = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]
    return ids.long(), mask


def _embed(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Unit vectors with gradients: the training twin of `Encoder.encode`."""
    hidden = model(ids, torch.zeros_like(ids), mask)
    return F.normalize(pool(hidden.float(), mask, pooling), dim=-1)


def batch_loss(model: nn.Module, loss_fn: ContrastiveLoss, data: PairTensors, rows: torch.Tensor, slots: int,
               pooling: str, static: bool) -> torch.Tensor:
    """The loss of the pairs at `rows` (device indices). The hard negatives of the batch fill `slots`
    fixed places, the pairs that have one first (a stable sort keeps the order random)."""
    queries = _embed(model, *_texts(data.queries, data.query_rows[rows], static), pooling)
    positives = _embed(model, *_texts(data.passages, data.positive_rows[rows], static), pooling)
    if not slots:
        return loss_fn(queries, positives)
    negative_rows = data.negative_rows[rows]
    chosen = torch.argsort((negative_rows < 0).int(), stable=True)[:slots]
    present = negative_rows[chosen] >= 0
    negatives = _embed(model, *_texts(data.passages, negative_rows[chosen].clamp(min=0), static), pooling)
    return loss_fn(queries, positives, negatives, present)


class StepTimer:
    """How busy the GPU is: CUDA events around each step measure its time on the device, and the share of
    the wall time between the first and the last step that the device spent in steps. A share near 1
    means the device never waited for the host; the events are read only when a window is logged."""

    def __init__(self, device: torch.device) -> None:
        self.enabled = device.type == "cuda"
        self.events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []

    def start(self) -> None:
        if self.enabled:
            self.events.append((torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)))
            self.events[-1][0].record()

    def stop(self) -> None:
        if self.enabled:
            self.events[-1][1].record()

    def busy_share(self) -> float | None:
        if not self.enabled or not self.events:
            return None
        self.events[-1][1].synchronize()
        busy = sum(start.elapsed_time(end) for start, end in self.events)
        span = self.events[0][0].elapsed_time(self.events[-1][1])
        self.events.clear()
        return busy / span if span > 0 else None


def _utilisation(device: torch.device) -> int | None:
    """The driver's GPU utilisation percent where torch can read it (it needs the NVML bindings)."""
    if device.type != "cuda":
        return None
    try:
        return torch.cuda.utilization(device)
    except Exception:  # no pynvml / amdsmi on the machine: the event-based share still tells
        return None


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
    budget = Budget(config.time_budget_s, config.max_steps)
    timer = StepTimer(device)
    step, epoch = 0, 0
    loss_sum = torch.zeros((), device=device)  # summed on the device: no host sync per step
    window_start, window_steps = time.perf_counter(), 0
    with tqdm(total=round(config.time_budget_s), unit="s", desc="finetune", disable=not show_progress) as bar:
        while not budget.done(step):
            order = torch.randperm(len(data), generator=generator).to(device)
            for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
                if budget.done(step):
                    break
                lr = learning_rate(budget.progress(step), config.lr, config.warmup_fraction)
                timer.start()
                with autocast(device, dtype):
                    loss = batch_loss(forward, loss_fn, data, order[start:start + config.batch_size], slots, config.pooling, static)
                optimizer_step(model, optimizer, loss, lr, grad_clip=1.0)
                timer.stop()
                step += 1
                window_steps += 1
                budget.tick()
                loss_sum += loss.detach()
                if step % config.log_every == 0:
                    mean_loss = loss_sum.item() / window_steps  # waits for the device, so the window's time is its own
                    seconds = time.perf_counter() - window_start
                    log.write({"step": step, "elapsed_s": round(budget.elapsed, 2), "epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                               "contrastive_loss": mean_loss, "temperature": 1.0 / loss_fn.log_scale.exp().item(),
                               "pairs_per_s": window_steps * config.batch_size / seconds, "gpu_busy": timer.busy_share(),
                               "gpu_utilisation": _utilisation(device)})
                    loss_sum.zero_()
                    window_start, window_steps = time.perf_counter(), 0
                    bar.n = min(round(budget.elapsed), bar.total)
                    bar.refresh()
            epoch += 1
    log.write({"event": "end", "step": step, "elapsed_s": round(budget.elapsed, 2), "pairs_seen": step * config.batch_size,
               "passes": round(step * config.batch_size / len(data), 2)})
    tokenizer.set_max_length(output_max_length)
    return save_checkpoint(out / "checkpoint", model.cpu(), tokenizer, pooling=config.pooling, max_length=output_max_length,
                           dtype=getattr(torch, config.save_dtype))

"""In-domain adaptation: continue training a fine-tuned encoder on a collection's own text, with no labels.

The contrastive loss of fine-tuning (`contrastive.batch_loss`) on pairs cut from the collection's
documents (two independent spans of one document, and its title to its text: `wikipedia_span_pairs`,
Contriever's cropping), and optionally (`mlm_weight` > 0) BERT's masked-language loss on its passages,
summed at every step. The MLM head is not part of a served checkpoint, so it starts fresh
(`load_weights` ties its decoder to the embeddings). MLM is off by default: on SciFact, at the same
20-minute CPU budget, adding it at weight 0.1 took half again as long a step and gained +1.4 nDCG@10
where the contrastive loss alone gained +3.5 (docs/benchmarks.md, "In-domain adaptation").

The learning rate, the span lengths and the batch were chosen on NFCorpus's dev queries over its dev
documents (6-minute pilots, `bench/adapt.py`): a rate of 5e-5 barely moved the model, 5e-4 moved it
most, and 2e-3 wrecked it (the loss first rose, and dense nDCG@10 fell from 12 to 5); spans of 4 to 32
words, closer to a query's length, beat 8 to 64 at the same rate and make shorter, so more, steps. A
batch of 128 pairs beat 32 at the same budget (22.2 against 20.9): each span meets four times as many
other documents' spans, fewer steps notwithstanding; 256 was level with 128 and 512 behind. The two
sides of a span pair differ in length as a query and a passage do: a query-long span (4 to 32 words)
to one of 16 to 64 words. In 20-minute runs that lifted SciFact's train claims from 64.5 to 69.5 and
left NFCorpus dev level (22.4 and 22.3), although the longer side makes a step a third slower.

Everything is tokenised before the clock starts; the loop follows the elapsed share of the budget
(`loop.Budget`), on the CPU or a GPU alike. The caller gives texts (the encoder package knows nothing
of the indexer's store) and gets back the checkpoint and a record of the run.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import torch
import torch.nn.functional as F

from ..atomic import atomic_write
from ..checkpoint import load_checkpoint, save_checkpoint
from ..flags import setting
from ..model import BertForPreTraining
from ..precision import PRECISIONS, autocast
from .contrastive import ContrastiveLoss, batch_loss
from .corpus import Document
from .loop import Budget, BudgetedSteps, LossWindow, MetricsLog, make_optimizer, optimizer_step, start_run
from .masking import IGNORE, MaskingConfig, mask_tokens
from .pair_tensors import token_table, tokenize_pairs
from .wikipedia_pairs import PASSAGE_LIKE_SPAN_WORDS, QUERY_LIKE_SPAN_WORDS, span_pair_rounds

ADAPT_SOURCE = "collection"  # the source of the pairs cut from the collection's documents
RECORD_FILE = "adaptation.json"  # beside an adapted checkpoint's weights: how it was made (`keep_record`)
LOG_FILE = "adapt_log.jsonl"
# The flags of a run wherever it trains; `manage.py adapt` adds the sampling and the masked-language
# loss, which need the store (`--export` samples there for a run on another machine).
TRAINING_FLAGS = ("time_budget_s", "max_steps", "max_passes", "batch_size", "lr", "temperature", "pair_rounds", "span_words",
                  "positive_words", "max_length", "positive_length", "device", "precision", "seed")
USEFUL_PASSES = 1.5  # passes over the span pairs past which dense nDCG@10 rose little or not at all (docs/benchmarks.md)


@dataclass
class AdaptConfig:
    """One adaptation run; `manage.py adapt`'s training flags come from here."""

    init_checkpoint: str = setting(help="checkpoint folder to start from", flag="--init")
    output_dir: str = setting(help="folder for the log and the checkpoint", flag="--out")
    time_budget_s: float = setting(1200.0, "training seconds", flag="--budget")
    max_steps: int | None = setting(None, "stop after this many steps, whatever time is left")
    max_passes: float = setting(2.0, "stop after this many passes over the collection's span pairs, whatever time is left "
                                     "(past 1.5, gains were small or none on the collections measured; 0: no limit)")
    batch_size: int = setting(128, "pairs per step (and passages per masked-language batch): the in-batch negatives of each pair")
    lr: float = setting(5e-4, "peak learning rate (chosen on NFCorpus dev: 5e-5 barely moved the model, 2e-3 wrecked it)")
    warmup_fraction: float = setting(0.1, "share of the budget over which the learning rate warms up")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    temperature: float = setting(0.05, "softmax temperature of the contrastive loss (chosen on NFCorpus dev and SciFact's train claims: 0.02 and 0.1 did worse)")
    mlm_weight: float = setting(0.0, "weight of the masked-language loss beside the contrastive one (0: contrastive only)")
    pair_rounds: int = setting(8, "pairs drawn from each document (fresh spans each round)")
    max_documents: int = setting(20_000, "documents drawn at random for the span pairs, and passages for the masked-language "
                                         "batches (0: all); every pair is tokenised before the first step, and 20 minutes on "
                                         "a CPU train on about 5,000 documents' pairs")
    span_words: tuple[int, ...] = setting(QUERY_LIKE_SPAN_WORDS, "shortest and longest query-side span, in words (short spans read like queries)")
    positive_words: tuple[int, ...] = setting(PASSAGE_LIKE_SPAN_WORDS, "shortest and longest span on the positive side, in words (longer: the passages a query meets)")
    max_length: int = setting(64, "tokens per query-side span while training (spans are short; on a CPU every token costs)")
    positive_length: int = setting(96, "tokens per positive-side span while training")
    log_every: int = setting(20, "steps between log lines")
    device: str = setting("auto", "cpu, cuda, cuda:N, or auto (CUDA when there is one)")
    precision: str = setting("auto", "number format of the matrix products", choices=PRECISIONS)
    seed: int = setting(0, "seed of the spans, the order, the masks and the MLM head")
    save_dtype: str = setting("float32", "float16 halves the checkpoint (a run on another machine saves so: the weights that "
                                         "travel, and that its passages are encoded with)", choices=("float32", "float16"))


@dataclass
class AdaptResult:
    """What a run did, for the record saved beside the checkpoint."""

    checkpoint: Path
    steps: int
    seconds: float
    pairs: int
    passages: int
    documents: int  # the documents the pairs were drawn from
    passes: float  # over the span pairs: under one, the budget was short of what the collection could use
    final_contrastive_loss: float | None
    final_mlm_loss: float | None
    collection_documents: int  # of which `documents` is a sample when there were over `max_documents`
    device: str


Item = TypeVar("Item")


def sample(items: Iterable[Item], count: int, seed: int) -> tuple[list[Item], int]:
    """Up to `count` of `items` drawn uniformly at random in one pass, holding no more than `count` at a
    time (reservoir sampling), and how many items there were; `count` 0 keeps them all. A large
    collection is streamed from the store, never held whole."""
    chosen: list[Item] = []
    rng = random.Random(seed)
    seen = 0
    for seen, item in enumerate(items, start=1):
        if not count or len(chosen) < count:
            chosen.append(item)
        elif (slot := rng.randrange(seen)) < count:
            chosen[slot] = item
    return chosen, seen


def span_documents(documents: Iterable[tuple[str, str]]) -> list[Document]:
    """(title, text) as the pair cutter's documents: one paragraph per non-empty line."""
    found = []
    for title, text in documents:
        paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
        if paragraphs:
            found.append(Document(title or "", paragraphs))
    return found


def adapt(config: AdaptConfig, documents: Iterable[tuple[str, str]], passages: Iterable[str], show_progress: bool = True) -> AdaptResult:
    """Train from `config.init_checkpoint` on `documents` ((title, text), for the pairs) and `passages`
    (what the index holds, for the masked-language batches: read only when `mlm_weight` > 0, so a
    caller may stream them); write `output_dir/checkpoint`, return what was done. Raises ValueError
    where the collection is too small for one batch."""
    out, device, dtype = start_run(config.output_dir, config.device, config.precision, config.seed)
    checkpoint = load_checkpoint(config.init_checkpoint)
    model = checkpoint.build(BertForPreTraining).to(device).train()  # the MLM head, absent from a served checkpoint, starts fresh
    tokenizer = checkpoint.tokenizer
    width = min(config.max_length, model.bert.config.max_position_embeddings)
    started = time.perf_counter()
    drawn, collection_documents = sample(documents, config.max_documents, config.seed)
    docs = span_documents(drawn)
    for name, words in (("span words", config.span_words), ("positive words", config.positive_words)):
        if len(words) != 2 or not 0 < words[0] <= words[1]:
            raise ValueError(f"{name} {words}: give the shortest and the longest span, shortest first")
    if config.max_passes < 0:
        raise ValueError(f"max passes {config.max_passes}: give a number of passes over the span pairs, or 0 for no limit")
    pairs = span_pair_rounds(docs, config.pair_rounds, config.seed, tuple(config.span_words), ADAPT_SOURCE, tuple(config.positive_words))
    texts = list(dict.fromkeys(sample(passages, config.max_documents, config.seed)[0])) if config.mlm_weight else []
    if len(pairs) < config.batch_size or (config.mlm_weight and len(texts) < config.batch_size):
        passages_found = f" and {len(texts)} passages" if config.mlm_weight else ""
        raise ValueError(f"{len(docs)} documents gave {len(pairs)} training pairs{passages_found}, "
                         f"fewer than one batch of {config.batch_size}: index more text first")
    positive_width = min(config.positive_length, model.bert.config.max_position_embeddings)
    data = tokenize_pairs(tokenizer, pairs, width, positive_width, hard_negatives=False).to(device)
    mlm_table = token_table(tokenizer, texts, width).to(device) if config.mlm_weight else None
    log = MetricsLog(out / LOG_FILE)
    log.write({"event": "start", "documents": len(docs), "pairs": len(pairs), "passages": len(texts), "device": str(device),
               "dtype": str(dtype), "tokenize_s": round(time.perf_counter() - started, 2), "config": asdict(config)})

    loss_fn = ContrastiveLoss(config.temperature, learnable=False).to(device)
    optimizer = make_optimizer(model, config.lr, config.weight_decay, (0.9, 0.999), 1e-8, device)
    special_ids = torch.tensor([tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id, tokenizer.unk_id], device=device)
    generator = torch.Generator().manual_seed(config.seed)
    steps = BudgetedSteps(Budget(config.time_budget_s, step_limit(config, len(data))), len(data), config.batch_size, config.lr,
                          config.warmup_fraction, generator, device, "adapt", show_progress)
    window = LossWindow(device, 2)  # contrastive, MLM
    last: tuple[float | None, float | None] = (None, None)

    def log_window(step: int, epoch: int, lr: float) -> tuple[float, float | None]:
        """Write the window's line; its mean losses (MLM's None when it is off) are the record's final ones."""
        (contrastive_mean, mlm_mean), pairs_per_s = window.take(config.batch_size)
        means = (contrastive_mean, mlm_mean if config.mlm_weight else None)
        log.write({"step": step, "elapsed_s": round(steps.budget.elapsed, 2), "epoch": epoch, "lr": lr, "contrastive_loss": means[0],
                   "mlm_loss": means[1], "pairs_per_s": pairs_per_s})
        return means

    for step in steps:
        with autocast(device, dtype):
            contrastive = batch_loss(model.bert, loss_fn, data, step.rows, 0, checkpoint.pooling, False)
            mlm = _mlm_loss(model, mlm_table, special_ids, tokenizer.mask_id, config.batch_size, generator) \
                if config.mlm_weight else torch.zeros((), device=device)
        optimizer_step(model, optimizer, contrastive + config.mlm_weight * mlm, step.lr, grad_clip=1.0)
        window.add(contrastive, mlm)
        if step.number % config.log_every == 0:
            last = log_window(step.number, step.epoch, step.lr)
    if window.steps:  # the last, partial window
        last = log_window(steps.steps, step.epoch, step.lr)
    log.write({"event": "end", "step": steps.steps, "elapsed_s": round(steps.budget.elapsed, 2), "passes": steps.passes})
    if not steps.steps:
        raise ValueError(f"the run ended before its first step (budget {config.time_budget_s:g}s, max steps {config.max_steps}): "
                         f"give adapt more time")
    # The settings tuned for the parent (hybrid's dense share) come along: without labels there is
    # nothing to tune them again on, and the parent's are the best guess.
    saved = save_checkpoint(out / "checkpoint", model.bert.cpu(), tokenizer, pooling=checkpoint.pooling, max_length=checkpoint.max_length,
                            dtype=getattr(torch, config.save_dtype), extra=checkpoint.extra)
    return AdaptResult(saved, steps.steps, round(steps.budget.elapsed, 2), len(pairs), len(texts), len(docs), steps.passes, *last,
                       collection_documents, str(device))


def keep_record(result: AdaptResult, config: AdaptConfig, base_model: str, base_sha256: str) -> Path:
    """Write the adapted checkpoint's record (`RECORD_FILE`) and move the run's log in beside it, so that
    the checkpoint folder says how it was made wherever it goes; the same fields whether the run was
    part of `manage.py adapt` or ran on another machine. Returns the checkpoint folder."""
    record = {"base_model": base_model, "base_sha256": base_sha256, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "budget_s": config.time_budget_s, "steps": result.steps, "passes": result.passes, "seconds": result.seconds,
              "device": result.device, "documents": result.documents, "collection_documents": result.collection_documents,
              "passages": result.passages, "pairs": result.pairs, "final_contrastive_loss": result.final_contrastive_loss,
              "final_mlm_loss": result.final_mlm_loss,
              "config": {k: v for k, v in asdict(config).items() if k not in ("init_checkpoint", "output_dir")}}
    write_record(result.checkpoint, record)
    (Path(config.output_dir) / LOG_FILE).replace(result.checkpoint / LOG_FILE)
    return result.checkpoint


def read_record(model: Path) -> dict:
    return json.loads((model / RECORD_FILE).read_text(encoding="utf-8"))


def write_record(model: Path, record: dict) -> None:
    atomic_write(model / RECORD_FILE, lambda temp: temp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8"))


def step_limit(config: AdaptConfig, pairs: int) -> int | None:
    """The fewer of `max_steps` and the steps of `max_passes` over `pairs` (None: time alone decides).
    A small collection would otherwise spend a long budget going over the same spans again, for nothing."""
    by_passes = math.ceil(config.max_passes * pairs / config.batch_size) if config.max_passes > 0 else None
    limits = [limit for limit in (config.max_steps, by_passes) if limit is not None]
    return min(limits) if limits else None


def _mlm_loss(model: BertForPreTraining, table, special_ids: torch.Tensor, mask_id: int, batch_size: int,
              generator: torch.Generator) -> torch.Tensor:
    """The masked-language loss of `batch_size` random passages, masked afresh, cut to the longest."""
    rows = torch.randint(0, len(table.ids), (batch_size,), generator=generator).to(table.ids.device)
    lengths = table.lengths[rows]
    ids = table.ids[rows][:, : int(lengths.max())].long()
    corrupted, positions, labels = mask_tokens(ids, lengths, special_ids, model.bert.config.vocab_size, mask_id, MaskingConfig())
    attention_mask = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]
    logits, _ = model(corrupted, torch.zeros_like(ids), attention_mask, mlm_positions=positions)
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE)

"""Pretraining: masked language model + next sentence prediction, on a wall-clock budget.

The whole prepared data set is moved to the device once and batches are gathered there, masks drawn
there: the CPU does no per-step work, so a GPU never waits on it. Shapes are static (full-width
rows, a fixed number of predicted positions per row), so `torch.compile` traces one graph.

A run may start from another pretrained checkpoint (`--init`) and continue its pretraining on new text:
one short GPU call after another then adds up to one long pretraining. The checkpoint's `config.json`
keeps the lineage (`pretraining`: one record per run, its data, steps, tokens and final loss), so a
model says how much pretraining it holds and on which files.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, load_weights, save_checkpoint
from ..config import BertConfig
from ..flags import setting
from ..model import BertForPreTraining
from ..precision import PRECISIONS, autocast
from ..tokenizer import TextTokenizer
from .loop import (
    Budget,
    MetricsLog,
    compile_static,
    learning_rate,
    load_state,
    make_optimizer,
    optimizer_step,
    restore_rng,
    rng_state,
    save_state,
    start_run,
)
from .masking import IGNORE, MaskingConfig, mask_tokens
from .meters import measure_matmul_flops, mfu, transformer_flops_per_token
from .pretraining_data import load_examples, read_meta

LINEAGE_KEY = "pretraining"  # in config.json: one record per pretraining run, oldest first


@dataclass
class PretrainConfig:
    """One pretraining run; the `pretrain` command's flags come from here. `model` sizes the network
    (the vocabulary comes from the tokenizer); its default is a small BERT, not BERT-base."""

    data_dir: str = setting(help="folder written by prepare-pretraining", flag="--data")
    tokenizer: str = setting(help="tokenizer.json the shards were made with")
    output_dir: str = setting(help="run folder: checkpoint, log and the state a run resumes from", flag="--out")
    model: BertConfig = field(default_factory=lambda: BertConfig(hidden_size=256, num_layers=4, num_heads=4))
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    time_budget_s: float = setting(600.0, "training seconds", flag="--budget")
    max_steps: int | None = setting(None, "stop after this many steps, whatever time is left")
    batch_size: int = setting(128, "examples per step")
    lr: float = setting(1e-3, "peak learning rate")
    warmup_fraction: float = setting(0.06, "share of the budget over which the learning rate warms up")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    grad_clip: float = setting(1.0, "gradient norm clip")
    nsp_weight: float = setting(1.0, "weight of the next-sentence loss beside the masked-token loss")
    log_every: int = setting(50, "steps between log lines")
    checkpoint_every_s: float = setting(600.0, "seconds between checkpoints")
    device: str = setting("auto", "cpu, cuda, cuda:N, or auto (CUDA when there is one)")
    precision: str = setting("auto", "number format of the matrix products", choices=PRECISIONS)
    compile: bool | None = setting(None, "torch.compile the loss (default: on CUDA only; on a CPU compiling costs more than it gains)")
    seed: int = setting(0, "seed of the example order, the masks and the initialisation")
    init_checkpoint: str | None = setting(
        None, "continue from this checkpoint (its architecture, weights and lineage; e.g. an earlier run or an imported BERT)", flag="--init")


class DeviceData:
    """The prepared examples as device tensors, served in a seeded random order, one epoch at a time."""

    def __init__(self, folder: str | Path, device: torch.device, seed: int) -> None:
        examples = load_examples(folder)
        self.input_ids = torch.from_numpy(examples.input_ids.astype("int64")).to(device)
        self.token_type_ids = torch.from_numpy(examples.token_type_ids()).to(device)
        self.lengths = torch.from_numpy(examples.lengths.astype("int64")).to(device)
        self.nsp_labels = torch.from_numpy(examples.nsp_labels.astype("int64")).to(device)
        self.seed = seed
        self.device = device

    def __len__(self) -> int:
        return len(self.lengths)

    def order(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return torch.randperm(len(self), generator=generator).to(self.device)

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.input_ids[rows], self.token_type_ids[rows], self.lengths[rows], self.nsp_labels[rows]


def pretraining_loss(model: BertForPreTraining, batch: tuple[torch.Tensor, ...], tokenizer_ids: dict[str, int],
                     special_ids: torch.Tensor, config: PretrainConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total loss, MLM loss, NSP accuracy) of one batch, with fresh masks."""
    input_ids, token_type_ids, lengths, nsp_labels = batch
    corrupted, positions, labels = mask_tokens(
        input_ids, lengths, special_ids, model.bert.config.vocab_size, tokenizer_ids["mask"], config.masking
    )
    attention_mask = torch.arange(input_ids.shape[1], device=input_ids.device)[None, :] < lengths[:, None]
    mlm_logits, nsp_logits = model(corrupted, token_type_ids, attention_mask, mlm_positions=positions)
    mlm_loss = F.cross_entropy(mlm_logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
    nsp_loss = F.cross_entropy(nsp_logits.float(), nsp_labels)
    accuracy = (nsp_logits.argmax(-1) == nsp_labels).float().mean()
    return mlm_loss + config.nsp_weight * nsp_loss, mlm_loss.detach(), accuracy.detach()


def pretrain(config: PretrainConfig, show_progress: bool = True) -> Path:
    """Run (or resume) pretraining in config.output_dir; return the checkpoint folder it wrote."""
    out, device, dtype = start_run(config.output_dir, config.device, config.precision, config.seed)

    meta = read_meta(config.data_dir)
    max_length = meta["config"]["max_length"]
    tokenizer = TextTokenizer.from_file(config.tokenizer, max_length=max_length)
    model_config = BertConfig(**{**asdict(config.model), "vocab_size": tokenizer.vocab_size, "pad_token_id": tokenizer.pad_id})
    lineage: list[dict] = []
    init = load_checkpoint(config.init_checkpoint) if config.init_checkpoint else None
    if init is not None:
        if init.tokenizer.tokenizer.get_vocab() != tokenizer.tokenizer.get_vocab():
            raise ValueError(f"{config.init_checkpoint}: its tokenizer is not {config.tokenizer}, which the shards were made with")
        model_config, lineage = init.config, init.extra.get(LINEAGE_KEY, [])
    if max_length > model_config.max_position_embeddings:
        raise ValueError(f"{config.data_dir}: rows of {max_length} tokens, more than the model's {model_config.max_position_embeddings} positions")
    model = BertForPreTraining(model_config)
    if init is not None:
        load_weights(model, init.weights)
    state = load_state(out)
    if state:  # resume: weights from the run's own last checkpoint
        load_weights(model, load_checkpoint(out / "checkpoint").weights)
    model.to(device).train()
    optimizer = make_optimizer(model, config.lr, config.weight_decay, config.betas, config.eps, device)
    step, epoch, cursor, spent, tokens_seen = 0, 0, 0, 0.0, 0
    if state:
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, cursor, spent = state["step"], state["epoch"], state["cursor"], state["elapsed"]
        tokens_seen, lineage = state.get("tokens_seen", 0), state.get(LINEAGE_KEY, lineage)
        restore_rng(state["rng"])

    data = DeviceData(config.data_dir, device, config.seed)
    if len(data) < config.batch_size:
        raise ValueError(f"{config.data_dir}: {len(data)} examples, fewer than one batch of {config.batch_size}")
    special_ids = torch.tensor([tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id, tokenizer.unk_id], device=device)
    ids = {"mask": tokenizer.mask_id}
    compiled = config.compile if config.compile is not None else device.type == "cuda"
    loss_fn = compile_static(pretraining_loss) if compiled else pretraining_loss

    peak = measure_matmul_flops(device, dtype)
    flops_per_token = transformer_flops_per_token(model_config, max_length, config.masking.mask_fraction)
    log = MetricsLog(out / "train_log.jsonl")
    log.write({"event": "start", "step": step, "device": str(device), "dtype": str(dtype), "params": sum(p.numel() for p in model.parameters()),
               "examples": len(data), "peak_tflops": peak / 1e12, "compiled": compiled})
    budget = Budget(config.time_budget_s, config.max_steps, already_spent=spent)
    order = data.order(epoch)
    last_save = time.perf_counter()
    window_start, window_tokens, window_steps = time.perf_counter(), 0, 0
    mlm_sum = torch.zeros((), device=device)
    last_mlm_loss = None
    acc_sum = torch.zeros((), device=device)
    real_tokens = torch.zeros((), device=device, dtype=torch.long)  # summed on the device: no sync per step

    with tqdm(total=round(config.time_budget_s), unit="s", desc="pretrain", disable=not show_progress, initial=round(spent)) as bar:
        while not budget.done(step):
            if cursor + config.batch_size > len(order):
                epoch, cursor = epoch + 1, 0
                order = data.order(epoch)
            batch = data.batch(order[cursor:cursor + config.batch_size])
            cursor += config.batch_size
            lr = learning_rate(budget.progress(step), config.lr, config.warmup_fraction)
            with autocast(device, dtype):
                loss, mlm_loss, accuracy = loss_fn(model, batch, ids, special_ids, config)
            optimizer_step(model, optimizer, loss, lr, config.grad_clip)
            step += 1
            budget.tick()
            mlm_sum += mlm_loss
            acc_sum += accuracy
            window_steps += 1
            window_tokens += config.batch_size * max_length
            real_tokens += batch[2].sum()
            if step % config.log_every == 0 or budget.done(step):
                seconds = time.perf_counter() - window_start
                rate = window_tokens / seconds
                window_real_tokens, last_mlm_loss = real_tokens.item(), (mlm_sum / window_steps).item()
                tokens_seen += window_real_tokens
                # Positions (padding included) are what the device computes, so MFU counts them;
                # tokens_per_s counts only real tokens, the data actually learnt from.
                log.write({"step": step, "elapsed_s": round(budget.elapsed, 2), "lr": optimizer.param_groups[0]["lr"],
                           "mlm_loss": last_mlm_loss, "nsp_acc": (acc_sum / window_steps).item(),
                           "tokens_per_s": window_real_tokens / seconds, "positions_per_s": rate,
                           "mfu": mfu(rate, flops_per_token, peak), "epoch": epoch})
                real_tokens.zero_()
                window_start, window_tokens, window_steps = time.perf_counter(), 0, 0
                mlm_sum.zero_()
                acc_sum.zero_()
                bar.n = min(round(budget.elapsed), bar.total)
                bar.refresh()
            if time.perf_counter() - last_save >= config.checkpoint_every_s:
                run = run_record(config, meta, device, step, budget.elapsed, tokens_seen, last_mlm_loss)
                _save(out, model, tokenizer, optimizer, lineage, run, step, epoch, cursor, budget.elapsed)
                last_save = time.perf_counter()

    spent = budget.elapsed  # what a resume starts from and what the log says: the same figure, the final save not in it
    _save(out, model, tokenizer, optimizer, lineage, run_record(config, meta, device, step, spent, tokens_seen, last_mlm_loss),
          step, epoch, cursor, spent)
    log.write({"event": "end", "step": step, "elapsed_s": round(spent, 2)})
    return out / "checkpoint"


def run_record(config: PretrainConfig, meta: dict, device: torch.device, steps: int, seconds: float, tokens_seen: int,
               mlm_loss: float | None) -> dict:
    """This run's line of the lineage: what it read, how long, and where its loss ended."""
    return {"files": meta.get("files"), "documents": meta.get("documents"), "corpus_tokens": meta.get("tokens"),
            "steps": steps, "seconds": round(seconds, 1), "tokens_seen": tokens_seen, "batch_size": config.batch_size,
            "lr": config.lr, "final_mlm_loss": None if mlm_loss is None else round(mlm_loss, 4), "device": str(device)}


def _save(out: Path, model: BertForPreTraining, tokenizer: TextTokenizer, optimizer: torch.optim.Optimizer, lineage: list[dict],
          run: dict, step: int, epoch: int, cursor: int, elapsed: float) -> None:
    """Checkpoint first, trainer state second: a state file always points at weights that exist. The
    state keeps the lineage before this run, so a resumed run replaces its own record, not adds one."""
    save_checkpoint(out / "checkpoint", model, tokenizer, max_length=tokenizer.max_length, extra={LINEAGE_KEY: [*lineage, run]})
    save_state(out, {"optimizer": optimizer.state_dict(), "step": step, "epoch": epoch, "cursor": cursor, "elapsed": elapsed,
                     "tokens_seen": run["tokens_seen"], LINEAGE_KEY: lineage, "rng": rng_state()})

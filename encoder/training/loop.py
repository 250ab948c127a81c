"""What pretraining and fine-tuning share: device and precision, the optimizer, the time-budgeted
learning-rate schedule, the shuffled-pass loop of the pair trainers (fine-tuning, the reranker,
adaptation), the metrics log, and resumable state. Throughput meters are in meters.py.

The budget is wall-clock time, as in Geiping & Goldstein's "Cramming": the schedule is a function of
the fraction of the budget spent, so a run ends on time on any hardware and its learning rate has
decayed to zero exactly then.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..atomic import atomic_write
from ..precision import resolve_precision

STATE_FILE = "trainer_state.pt"


def pick_device(name: str = "auto") -> torch.device:
    return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)


def start_run(output_dir: str | Path, device_name: str, precision: str, seed: int) -> tuple[Path, torch.device, torch.dtype]:
    """Create the run folder, pick the device and compute dtype, seed every generator."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(device_name)
    seed_everything(seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # float32 leftovers (optimizer maths) on tensor cores
    return out, device, resolve_precision(precision, device)


def optimizer_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, lr: float, grad_clip: float) -> None:
    """Backward, clip the gradient norm, update at learning rate `lr`, clear the gradients."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def compile_static(fn: Callable, backend: str = "inductor") -> Callable:
    """torch.compile for code whose shapes are fixed within a run (pretraining's batches, fine-tuning's
    static widths). dynamic=False: a second run in the same process with other shapes (another stage,
    model or batch size) traces afresh instead of recompiling with symbolic sizes, which `torch.rand`
    in `mask_tokens` does not survive; the reset drops the previous run's graphs and their guards."""
    torch._dynamo.reset()
    return torch.compile(fn, dynamic=False, backend=backend)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float], eps: float, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only: biases and LayerNorm gains (1-D) are not decayed, as
    in BERT; on CUDA the fused kernel updates every tensor in one launch."""
    params = {id(p): p for p in model.parameters() if p.requires_grad}.values()  # tied weights once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, fused=device.type == "cuda")


def learning_rate(progress: float, peak: float, warmup: float) -> float:
    """Linear warm-up over the first `warmup` fraction of the budget, then linear decay to zero."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < warmup:
        return peak * progress / warmup
    return peak * max(0.0, 1.0 - progress) / max(1e-9, 1.0 - warmup)


@dataclass
class Budget:
    """Elapsed training time, carried across resumes, and the step cap (whichever ends first)."""

    seconds: float
    max_steps: int | None = None
    already_spent: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    step_seconds: float = 0.0  # running mean duration of one step
    _last_tick: float | None = None

    @property
    def elapsed(self) -> float:
        return self.already_spent + time.perf_counter() - self.started

    def tick(self) -> None:
        """Called after every step, to learn how long a step takes."""
        now = time.perf_counter()
        if self._last_tick is not None:
            duration = now - self._last_tick
            self.step_seconds = duration if self.step_seconds == 0 else 0.9 * self.step_seconds + 0.1 * duration
        self._last_tick = now

    def progress(self, step: int) -> float:
        by_time = self.elapsed / self.seconds if self.seconds > 0 else 0.0
        by_steps = step / self.max_steps if self.max_steps else 0.0
        return max(by_time, by_steps)

    def done(self, step: int) -> bool:
        """Stop when the next step would end further past the budget than we now are short of it, so a
        run ends within half a step of its budget rather than up to a whole step late. A step limit of 0
        means no step at all (a run that only saves what it started from), not no limit."""
        if self.max_steps is not None and step >= self.max_steps:
            return True
        return self.seconds > 0 and self.elapsed + self.step_seconds / 2 >= self.seconds


@dataclass(frozen=True)
class TrainStep:
    """One step of `BudgetedSteps`: its number (1 for the first), the pass over the data it belongs to,
    the device indices of its examples and its learning rate."""

    number: int
    epoch: int
    rows: torch.Tensor
    lr: float


class BudgetedSteps:
    """Shuffled passes over a training set's rows in whole batches until the budget ends, with the
    learning rate of each step and a progress bar of the budget: the loop of every trainer
    whose data sit pre-tokenised on the device. The body of a `for` over it makes one optimizer step;
    the budget learns a step's length when the body returns."""

    def __init__(self, budget: Budget, size: int, batch_size: int, peak_lr: float, warmup_fraction: float,
                 generator: torch.Generator, device: torch.device, desc: str, show_progress: bool = True) -> None:
        if size < batch_size:
            raise ValueError(f"{size} training examples, fewer than one batch of {batch_size}")
        self.budget, self.size, self.batch_size = budget, size, batch_size
        self.peak_lr, self.warmup_fraction = peak_lr, warmup_fraction
        self.generator, self.device = generator, device
        self.desc, self.show_progress = desc, show_progress
        self.steps = 0

    @property
    def passes(self) -> float:
        return round(self.steps * self.batch_size / self.size, 2)

    def __iter__(self) -> Iterator[TrainStep]:
        budget, epoch = self.budget, 0
        # In hundredths of the budget, time or steps, whichever ends first: a bar in seconds would stop
        # short of its end when a step limit ends the run.
        with tqdm(total=100, unit="%", desc=self.desc, disable=not self.show_progress) as bar:
            while not budget.done(self.steps):
                order = torch.randperm(self.size, generator=self.generator).to(self.device)
                for start in range(0, self.size - self.batch_size + 1, self.batch_size):
                    if budget.done(self.steps):
                        break
                    lr = learning_rate(budget.progress(self.steps), self.peak_lr, self.warmup_fraction)
                    yield TrainStep(self.steps + 1, epoch, order[start:start + self.batch_size], lr)
                    self.steps += 1
                    budget.tick()
                    bar.update(min(round(100 * budget.progress(self.steps)), bar.total) - bar.n)
                epoch += 1


class LossWindow:
    """Losses summed on the device between two log lines: reading them waits for the device, so only a
    logged step pays that, and the window's time is its own work."""

    def __init__(self, device: torch.device, count: int = 1) -> None:
        self.sums = torch.zeros(count, device=device)
        self.steps = 0
        self.started = time.perf_counter()

    def add(self, *losses: torch.Tensor) -> None:
        self.sums += torch.stack([loss.detach().float() for loss in losses])
        self.steps += 1

    def take(self, examples_per_step: int) -> tuple[list[float], float]:
        """Each loss's mean over the window and the examples trained on per second; opens a new window."""
        means = (self.sums / max(self.steps, 1)).tolist()
        rate = self.steps * examples_per_step / (time.perf_counter() - self.started)
        self.sums.zero_()
        self.steps, self.started = 0, time.perf_counter()
        return means, rate


class MetricsLog:
    """Appends one JSON object per logged step to a file and prints a short line for people."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        text = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items())
        print(text, file=sys.stderr, flush=True)


def save_state(folder: Path, state: dict[str, Any]) -> None:
    """Write the trainer state atomically: a crash mid-write leaves the previous state intact."""
    atomic_write(folder / STATE_FILE, lambda tmp: torch.save(state, tmp))


def load_state(folder: Path) -> dict[str, Any] | None:
    path = folder / STATE_FILE
    return torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else None


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

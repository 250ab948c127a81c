"""Throughput meters of a training run: the device's measured peak, model FLOPs utilisation, and the
GPU's busy share, so a log says whether a run was bound by the device or waited on the host."""

from __future__ import annotations

import math
import time

import torch


def measure_matmul_flops(device: torch.device, dtype: torch.dtype, size: int | None = None) -> float:
    """Peak FLOP/s of this device, measured as the rate of a large square matrix product in `dtype`.

    MFU is then reported against what this very machine does, not a datasheet number."""
    size = size or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.5:
        a @ b
        repeats += 1
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def transformer_flops_per_token(config, sequence_length: int, predicted_fraction: float = 1.0) -> float:
    """Training FLOPs per token (forward + backward = 3 × forward, 2 FLOPs per multiply-add):
    the layers' matrices, attention scores and values, and the vocabulary projection on the share of
    positions that are predicted. Embedding look-ups cost no FLOPs."""
    d, layers = config.hidden_size, config.num_layers
    per_layer = 4 * d * d + 2 * d * config.intermediate_size  # QKV + output, feed-forward in/out
    attention = 2 * sequence_length * d  # QK^T and AV, per token per layer
    head = (d * d + d * config.vocab_size) * predicted_fraction
    return 6 * (layers * (per_layer + attention) + head)


def mfu(tokens_per_second: float, flops_per_token: float, peak_flops: float) -> float:
    return tokens_per_second * flops_per_token / peak_flops if peak_flops > 0 else math.nan


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


def gpu_utilisation(device: torch.device) -> int | None:
    """The driver's GPU utilisation percent where torch can read it (it needs the NVML bindings)."""
    if device.type != "cuda":
        return None
    try:
        return torch.cuda.utilization(device)
    except Exception:  # no pynvml / amdsmi on the machine: the event-based share still tells
        return None

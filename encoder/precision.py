"""Which number format the matrix products run in, on this device.

bf16 doubles CPU throughput where the processor multiplies bf16 natively and costs a cosine of about
1e-5 against float32 (docs/benchmarks.md); autocast keeps LayerNorm, softmax and losses in float32.

Autocast casts every weight to bf16 again at every forward pass. Over a batch of passages that is
nothing; for one short query it is most of the pass, so a search service runs its models with the
linear layers' weights kept in bf16 once (`WEIGHTS_IN_BF16`, chosen by `serving_precision`). Bulk
encoding keeps autocast, which carries a batch's activations in bf16 throughout: 66.5 abstracts a second
against 46.5 with bf16 weights (bench/encode.py, docs/benchmarks.md). A reranker scores a batch of
candidates per search, so it is a bulk job too: autocast where the CPU has AMX, int8 elsewhere
(`reranking_precision`).
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

PRECISIONS = ("auto", "float32", "bfloat16")
NO_BF16_VARIABLE = "BERTSEARCH_CPU_BF16"
# An `Encoder`'s precision beside PRECISIONS: linear layers hold their weights in bf16 and multiply there,
# everything between them stays float32 (`keep_linear_weights_in_bf16`).
WEIGHTS_IN_BF16 = "bfloat16-weights"
# A reranker's precision beside those: its linear layers quantized to int8 (`CrossEncoder.quantized`, CPU only).
INT8 = "int8"


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags, as /proc/cpuinfo names them (none where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    return frozenset(flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split())


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True where the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX); elsewhere bf16 is emulated
    and slower than float32, so "auto" precision must not pick it. `BERTSEARCH_CPU_BF16=0` says no
    whatever the CPU: an operator who wants float32 everywhere, and the test run that plays an
    AVX2-only machine (`make test-avx2`), use it."""
    return _bf16_allowed() and bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def cpu_has_amx() -> bool:
    """True where the CPU has AMX's bf16 tile multiplier (Intel Sapphire Rapids and later), which
    scores a reranker's batch at 1.6 to 1.95x int8's speed (docs/benchmarks.md); never
    with `BERTSEARCH_CPU_BF16=0`."""
    return _bf16_allowed() and "amx_bf16" in _cpu_flags()


def _bf16_allowed() -> bool:
    return os.environ.get(NO_BF16_VARIABLE, "").strip() != "0"


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """Map "auto" / "float32" / "bfloat16" to the compute dtype on this device."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision == "float32":
        return torch.float32
    if precision == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bf16() else torch.float32


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """bf16 autocast on `device`, or nothing for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def serving_precision() -> str:
    """The precision a search service encodes queries in, one short text at a time (a reranker's batch
    runs at `reranking_precision`): bf16 weights where the CPU multiplies bf16 natively (one query in
    1.72 ms against 3.07 in float32 and 2.63 with autocast on a 2-core AMD EPYC, 2.7-2.85 against 3.2
    and 3.9-4.3 on an Intel Xeon with AMX: docs/benchmarks.md), float32 elsewhere."""
    return WEIGHTS_IN_BF16 if cpu_has_native_bf16() else "float32"


def reranking_precision() -> str:
    """The precision a search service scores its reranked candidates in: a batch of (query, passage)
    pairs, where autocast pays its weight casts once per batch. bf16 autocast where the CPU has AMX
    (30 pairs of 128 tokens in 90-98 ms on one thread of an Intel Xeon, against 168-180 in int8 and 144-163
    with bf16 weights: bench/rerank_cost.py); int8 elsewhere: ahead of bf16 weights on an AMD EPYC with AVX512-BF16 (autocast is
    not measured there) and 2.5x float32's speed on AVX2 (docs/benchmarks.md, "Reranking")."""
    return "bfloat16" if cpu_has_amx() else INT8


def compute_dtype(model: nn.Module, precision: str, device: torch.device) -> torch.dtype:
    """What `autocast` runs `model` in at `precision` on `device`; for WEIGHTS_IN_BF16, float32, once
    its linear layers keep their weights in bf16 (`keep_linear_weights_in_bf16`, done here)."""
    if precision == WEIGHTS_IN_BF16:
        keep_linear_weights_in_bf16(model)
        return torch.float32
    return resolve_precision(precision, device)


def keep_linear_weights_in_bf16(model: nn.Module) -> nn.Module:
    """Cast `model`'s linear layers to bf16 for good, each taking its input in bf16 and giving its output
    back in float32: the matrix products autocast would run, with no weight cast per call, and the
    residual stream, LayerNorm and softmax in float32."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            module.to(torch.bfloat16)
            module.register_forward_pre_hook(_input_in_bf16)
            module.register_forward_hook(_output_in_float32)
    return model


def _input_in_bf16(module: nn.Module, args: tuple) -> tuple:
    return (args[0].to(torch.bfloat16), *args[1:])


def _output_in_float32(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return output.float()

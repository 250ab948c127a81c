"""Which number format the matrix products run in, on this device.

bf16 doubles CPU throughput where the processor multiplies bf16 natively and costs a cosine of about
1e-5 against float32 (docs/benchmarks.md); autocast keeps LayerNorm, softmax and losses in float32.
"""

from __future__ import annotations

import contextlib
import os
import re
from functools import lru_cache
from pathlib import Path

import torch

PRECISIONS = ("auto", "float32", "bfloat16")
NO_BF16_VARIABLE = "BERTSEARCH_CPU_BF16"


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True where the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX); elsewhere bf16 is emulated
    and slower than float32, so "auto" precision must not pick it. `BERTSEARCH_CPU_BF16=0` says no
    whatever the CPU: an operator who wants float32 everywhere, and the test run that plays an
    AVX2-only machine (`make test-avx2`), use it."""
    if os.environ.get(NO_BF16_VARIABLE, "").strip() == "0":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


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

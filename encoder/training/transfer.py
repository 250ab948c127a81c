"""What crosses to and from the GPU machine: the pairs file of the data folder that travels with the
checkout, and the trained checkpoint cut into parts small enough to come back (the transfer limit is
16 MiB a file), which `assemble` (`python3 -m encoder.training.pipeline assemble`) puts together again."""

from __future__ import annotations

import itertools
import shutil
import tarfile
from pathlib import Path

import torch

from ..checkpoint import CONFIG_FILE, HEAD_PREFIXES, TOKENIZER_FILE, WEIGHTS_FILE, load_checkpoint, save_checkpoint
from ..model import BertForPreTraining, BertModel

PART_BYTES = 15 * 1024 * 1024
SMALL_FILES_ARCHIVE = "checkpoint_and_logs.tar.gz"
PAIRS_FILE = "pairs.jsonl.xz"  # in the data folder: written by scripts/prepare_gpu_data.py, read by the pipeline


def export(checkpoint: Path, logs: list[Path], out: Path) -> list[Path]:
    """float16 weights in parts of at most PART_BYTES, plus one archive of config, tokenizer and logs.
    A pretrained checkpoint keeps its MLM and NSP heads: the NSP head is where a reranker starts."""
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_checkpoint(checkpoint)
    has_heads = any(key.startswith(HEAD_PREFIXES) for key in loaded.weights)
    staging = out / "staging"
    save_checkpoint(staging, loaded.build(BertForPreTraining if has_heads else BertModel), loaded.tokenizer, loaded.pooling, loaded.max_length, dtype=torch.float16, extra=loaded.extra)
    written = []
    with (staging / WEIGHTS_FILE).open("rb") as weights:
        for index in itertools.count():
            chunk = weights.read(PART_BYTES)
            if not chunk:
                break
            part = out / f"{WEIGHTS_FILE}.part{index:02d}"
            part.write_bytes(chunk)
            written.append(part)
    with tarfile.open(out / SMALL_FILES_ARCHIVE, "w:gz") as archive:
        for path in [staging / CONFIG_FILE, staging / TOKENIZER_FILE, *logs]:
            if path.exists():
                archive.add(path, arcname=path.name)
    shutil.rmtree(staging)
    return [*written, out / SMALL_FILES_ARCHIVE]


def assemble(source: Path, destination: Path) -> Path:
    """Rebuild a checkpoint folder (and the logs) from what `export` wrote."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source / SMALL_FILES_ARCHIVE) as archive:
        archive.extractall(destination, filter="data")
    parts = sorted(source.glob(f"{WEIGHTS_FILE}.part*"))
    if not parts:
        raise FileNotFoundError(f"{source}: no {WEIGHTS_FILE}.part* files")
    with (destination / WEIGHTS_FILE).open("wb") as weights:
        for part in parts:
            weights.write(part.read_bytes())
    load_checkpoint(destination)  # fails loudly if a part is missing or corrupt
    return destination

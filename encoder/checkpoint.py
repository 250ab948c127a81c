"""The checkpoint folder: config.json + model.safetensors + tokenizer.json.

One format for everything: training writes it, the app loads it, and `hf_import` converts a Hugging
Face BERT folder into it. The weights file holds the backbone (`embeddings.*`, `encoder.*`,
`pooler.*`) and, when the model had them, the pretraining heads (`mlm_head.*`, `nsp_head.*`); the MLM
decoder's weight is the word-embedding matrix and is not stored twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .atomic import atomic_write
from .config import POOLING_MODES, BertConfig
from .model import BertModel
from .tokenizer import TextTokenizer

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
FORMAT_NAME = "bertsearch-checkpoint"
FORMAT_VERSION = 1
TIED_KEY = "mlm_head.decoder.weight"
HEAD_PREFIXES = ("mlm_head.", "nsp_head.")
NETWORK_KEYS = frozenset({"format", "format_version", "bert", "pooling", "max_length", "dtype"})  # config.json's own; the rest is `extra`


class CheckpointError(Exception):
    """A checkpoint folder is missing, incomplete or not ours; the message says which and where."""


@dataclass
class Checkpoint:
    """Everything a checkpoint folder holds, loaded into memory."""

    config: BertConfig
    tokenizer: TextTokenizer
    weights: dict[str, torch.Tensor]
    pooling: str = "mean"
    max_length: int = 256
    extra: dict[str, Any] = field(default_factory=dict)

    def build(self, model_class: type[nn.Module] = BertModel) -> nn.Module:
        """Instantiate `BertModel`, `BertForPreTraining` or `BertForPairScoring` and load the stored weights
        into it (float32); heads the file lacks keep their fresh initialisation."""
        model = model_class(self.config)
        load_weights(model, self.weights)
        return model


def model_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Our storage keys for a `BertModel`, `BertForPreTraining` or `BertForPairScoring` (backbone without
    the `bert.` prefix, heads under their own names)."""
    state = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if key == TIED_KEY:
            continue
        out[key.removeprefix("bert.")] = tensor.detach()
    return out


def load_weights(model: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Load stored weights into a model, exactly; a model with heads may start from a head-less file.

    Absent heads keep their fresh initialisation (continuing pretraining from an imported encoder is a
    real use); anything else missing, unexpected or misshapen is an error.
    """
    backbone = model if isinstance(model, BertModel) else model.bert
    _load_exact(backbone, {k: v for k, v in weights.items() if not k.startswith(HEAD_PREFIXES)}, "backbone")
    for name in ("mlm_head", "nsp_head"):
        head = getattr(model, name, None)
        head_weights = {k.removeprefix(f"{name}."): v for k, v in weights.items() if k.startswith(f"{name}.")}
        if head is None or not head_weights:
            continue
        if name == "mlm_head":
            head_weights["decoder.weight"] = backbone.embeddings.word.weight.detach()
        _load_exact(head, head_weights, name)


def _load_exact(module: nn.Module, weights: dict[str, torch.Tensor], what: str) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{what} weights do not match the config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for key, tensor in weights.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(f"{what} weight {key} has shape {tuple(tensor.shape)}, expected {tuple(expected[key].shape)}")
    module.load_state_dict({k: v.to(torch.float32) for k, v in weights.items()}, strict=True)


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    tokenizer: TextTokenizer,
    pooling: str = "mean",
    max_length: int = 256,
    dtype: torch.dtype = torch.float32,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder; each file is written to a temporary name, fsynced and renamed, so a
    crash never leaves a half-written file under the real name. `dtype=torch.float16` halves the size
    (the shipped model is stored so); loading always computes in float32 or bf16."""
    if pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be one of {POOLING_MODES}, not {pooling!r}")
    config: BertConfig = model.config if isinstance(model, BertModel) else model.bert.config
    if max_length > config.max_position_embeddings:
        raise ValueError(f"max_length {max_length} exceeds the model's {config.max_position_embeddings} positions")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.to(dtype).contiguous() for k, v in model_weights(model).items()}
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "bert": config.to_dict(),
        "pooling": pooling,
        "max_length": max_length,
        "dtype": str(dtype).removeprefix("torch."),
        **(extra or {}),
    }
    atomic_write(folder / WEIGHTS_FILE, lambda tmp: save_file(weights, str(tmp), metadata={"format": "pt"}))
    atomic_write(folder / TOKENIZER_FILE, tokenizer.save)
    atomic_write(folder / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n"))
    return folder


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint folder, with errors that name the folder and the file at fault."""
    folder = Path(path)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    for name in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE):
        if not (folder / name).is_file():
            hint = " (a Hugging Face folder? convert it with `manage.py import-hf`)" if name == CONFIG_FILE or (folder / "vocab.txt").exists() else ""
            raise CheckpointError(f"{folder}: missing {name}{hint}")
    meta = read_json(folder / CONFIG_FILE)
    if meta.get("format") != FORMAT_NAME:
        raise CheckpointError(
            f"{folder / CONFIG_FILE}: not a {FORMAT_NAME} config (a Hugging Face folder? convert it with `manage.py import-hf`)"
        )
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{folder}: format version {meta['format_version']} is newer than this code ({FORMAT_VERSION})")
    try:
        config = BertConfig.from_dict(meta["bert"])
        weights = load_file(folder / WEIGHTS_FILE)
        tokenizer = TextTokenizer.from_file(folder / TOKENIZER_FILE, max_length=int(meta["max_length"]))
    except Exception as exc:  # a corrupt file surfaces as many exception types
        raise CheckpointError(f"{folder}: cannot read checkpoint ({exc})") from None
    return Checkpoint(
        config=config,
        tokenizer=tokenizer,
        weights=weights,
        pooling=meta.get("pooling", "mean"),
        max_length=int(meta["max_length"]),
        extra={k: v for k, v in meta.items() if k not in NETWORK_KEYS},
    )


def save_settings(path: str | Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Merge `settings` into a checkpoint's config.json beside the network's keys (`Checkpoint.extra`:
    what is tuned for the model after training, such as hybrid search's dense share), atomically, the
    weights untouched; returns the file's new contents. A key of the network's own is refused."""
    folder = Path(path)
    clash = sorted(set(settings) & NETWORK_KEYS)
    if clash:
        raise ValueError(f"{', '.join(clash)}: the network's own settings, not changed this way")
    load_checkpoint(folder)  # refuses anything that is not a whole checkpoint of ours, naming the file at fault
    meta = {**read_json(folder / CONFIG_FILE), **settings}
    atomic_write(folder / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n"))
    return meta


def fraction_setting(settings: dict[str, Any], key: str, default: float, folder: object) -> float:
    """A share from 0 to 1 that a checkpoint's settings (`Checkpoint.extra`) name under `key`, else
    `default`; anything else is a CheckpointError naming the folder, since every search would use it."""
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise CheckpointError(f"{folder}: config.json's {key} must be a number from 0 to 1, not {value!r}")
    return float(value)


def read_json(path: Path) -> Any:
    """A model folder's JSON file (ours or a Hugging Face one); a file that is unreadable or not JSON is
    a CheckpointError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot read JSON ({exc})") from None

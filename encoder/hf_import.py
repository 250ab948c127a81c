"""Convert a Hugging Face BERT folder into our checkpoint folder.

Reads `config.json`, `model.safetensors` or `pytorch_model.bin`, `tokenizer.json` or `vocab.txt`,
and, when present, the sentence-transformers files that say how vectors are pooled and how long inputs
may be. Only weights are read: nothing is downloaded and no Hugging Face code runs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer

from .checkpoint import CheckpointError, load_weights, read_json, save_checkpoint
from .config import BertConfig
from .hf_format import POOLING_KEYS, config_from_hf, weights_from_hf
from .model import BertForPreTraining, BertModel, init_weights
from .tokenizer import TextTokenizer, wordpiece_from_vocab


def hf_config(folder: Path) -> BertConfig:
    """Our config from a Hugging Face BERT config.json; refuses what our architecture cannot hold."""
    return config_from_hf(read_json(folder / "config.json"), str(folder / "config.json"))


def hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Our weight names from a Hugging Face state dict, with Q, K and V fused into one projection."""
    return weights_from_hf(_read_state_dict(folder), str(folder))


def hf_tokenizer(folder: Path, max_length: int) -> TextTokenizer:
    """tokenizer.json when present (its baked-in padding/truncation are cleared), else vocab.txt."""
    if (folder / "tokenizer.json").is_file():
        return TextTokenizer(Tokenizer.from_file(str(folder / "tokenizer.json")), max_length)
    if not (folder / "vocab.txt").is_file():
        raise CheckpointError(f"{folder}: neither tokenizer.json nor vocab.txt found")
    options = read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return TextTokenizer(wordpiece_from_vocab(vocab, lowercase=options.get("do_lower_case", True)), max_length)


def sentence_transformers_options(folder: Path, config: BertConfig) -> tuple[str, int]:
    """Pooling mode and max length from sentence-transformers files, else mean pooling and 512 (or the
    tokenizer's own limit, whichever is smaller)."""
    pooling, max_length = "mean", min(512, config.max_position_embeddings)
    if (folder / "modules.json").is_file():
        for module in read_json(folder / "modules.json"):
            if module.get("type", "").endswith(".Pooling"):
                pooling = _pooling_mode(read_json(folder / module["path"] / "config.json"), folder / module["path"])
    if (folder / "sentence_bert_config.json").is_file():
        max_length = read_json(folder / "sentence_bert_config.json").get("max_seq_length", max_length)
    elif (folder / "tokenizer_config.json").is_file():
        max_length = min(max_length, int(read_json(folder / "tokenizer_config.json").get("model_max_length", max_length)))
    return pooling, min(max_length, config.max_position_embeddings)


def _pooling_mode(options: dict, where: Path) -> str:
    for mode, key in POOLING_KEYS.items():
        if options.get(key):
            return mode
    raise CheckpointError(f"{where}: only mean or CLS pooling are supported")


def import_hf(source: str | Path, destination: str | Path) -> Path:
    """Convert the Hugging Face BERT folder `source` into our checkpoint folder `destination`."""
    folder = Path(source)
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{folder}: no config.json (is this a Hugging Face model folder?)")
    config = hf_config(folder)
    weights = hf_weights(folder)
    pooling, max_length = sentence_transformers_options(folder, config)
    tokenizer = hf_tokenizer(folder, max_length)
    has_heads = any(k.startswith("mlm_head.") for k in weights)
    model = BertForPreTraining(config) if has_heads else BertModel(config)
    backbone = model.bert if has_heads else model
    if "pooler.dense.weight" not in weights:  # sentence encoders often drop the pooler: keep it fresh
        init_weights(backbone.pooler.dense, config.initializer_range)
        weights.update({f"pooler.{k}": v for k, v in backbone.pooler.state_dict().items()})
    if has_heads and "nsp_head.classifier.weight" not in weights:
        weights.update({f"nsp_head.{k}": v for k, v in model.nsp_head.state_dict().items()})
    load_weights(model, weights)
    return save_checkpoint(destination, model, tokenizer, pooling=pooling, max_length=max_length, extra={"imported_from": folder.resolve().name})


def _read_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    if (folder / "model.safetensors").is_file():
        return load_file(folder / "model.safetensors")
    if (folder / "pytorch_model.bin").is_file():
        # weights_only: a .bin is a pickle, and unpickling arbitrary objects from a folder is unsafe.
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise CheckpointError(f"{folder}: neither model.safetensors nor pytorch_model.bin found")

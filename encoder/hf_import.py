"""Convert a Hugging Face BERT folder into our checkpoint folder.

Reads `config.json`, `model.safetensors` or `pytorch_model.bin`, `tokenizer.json` or `vocab.txt`,
and, when present, the sentence-transformers files that say how vectors are pooled and how long inputs
may be. Only weights are read: nothing is downloaded and no Hugging Face code runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer

from .checkpoint import CheckpointError, load_weights, save_checkpoint
from .config import BertConfig
from .model import BertForPreTraining, BertModel, init_weights
from .tokenizer import TextTokenizer, wordpiece_from_vocab

HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}

# Hugging Face name (after dropping a leading "bert.") -> ours. {i} is a layer number.
_RENAMES = [
    (r"embeddings\.word_embeddings\.", "embeddings.word."),
    (r"embeddings\.position_embeddings\.", "embeddings.position."),
    (r"embeddings\.token_type_embeddings\.", "embeddings.token_type."),
    (r"embeddings\.LayerNorm\.", "embeddings.norm."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"encoder.layers.\1.attention.output."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"encoder.layers.\1.attention_norm."),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.", r"encoder.layers.\1.feed_forward.intermediate."),
    (r"encoder\.layer\.(\d+)\.output\.dense\.", r"encoder.layers.\1.feed_forward.output."),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"encoder.layers.\1.output_norm."),
    (r"pooler\.dense\.", "pooler.dense."),
    (r"cls\.predictions\.transform\.dense\.", "mlm_head.dense."),
    (r"cls\.predictions\.transform\.LayerNorm\.", "mlm_head.norm."),
    (r"cls\.predictions\.(decoder\.)?bias$", "mlm_head.decoder.bias"),
    (r"cls\.seq_relationship\.", "nsp_head.classifier."),
]
_QKV = re.compile(r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.(weight|bias)$")
_IGNORED = re.compile(r"(position_ids$|cls\.predictions\.decoder\.weight$)")


def hf_config(folder: Path) -> BertConfig:
    """Our config from a Hugging Face BERT config.json; refuses what our architecture cannot hold."""
    raw = _read_json(folder / "config.json")
    if raw.get("model_type", "bert") != "bert":
        raise CheckpointError(f"{folder / 'config.json'}: model_type {raw['model_type']!r} is not a BERT")
    if raw.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(f"{folder / 'config.json'}: only absolute position embeddings are supported")
    activation = raw.get("hidden_act", "gelu")
    if activation not in HF_ACTIVATIONS:
        raise CheckpointError(f"{folder / 'config.json'}: unsupported hidden_act {activation!r}")
    return BertConfig(
        vocab_size=raw["vocab_size"],
        hidden_size=raw["hidden_size"],
        num_layers=raw["num_hidden_layers"],
        num_heads=raw["num_attention_heads"],
        intermediate_size=raw["intermediate_size"],
        max_position_embeddings=raw.get("max_position_embeddings", 512),
        type_vocab_size=raw.get("type_vocab_size", 2),
        layer_norm_eps=raw.get("layer_norm_eps", 1e-12),
        dropout=raw.get("hidden_dropout_prob", 0.1),
        activation=HF_ACTIVATIONS[activation],
        pad_token_id=raw.get("pad_token_id") or 0,
        initializer_range=raw.get("initializer_range", 0.02),
    )


def hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Our weight names from a Hugging Face state dict, with Q, K and V fused into one projection."""
    raw = _read_state_dict(folder)
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for name, tensor in raw.items():
        name = name.removeprefix("bert.").replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if _IGNORED.search(name):
            continue
        if match := _QKV.match(name):
            layer, part, kind = match.groups()
            qkv.setdefault((layer, kind), {})[part] = tensor
            continue
        for pattern, replacement in _RENAMES:
            renamed, count = re.subn(pattern, replacement, name)
            if count:
                out[renamed] = tensor
                break
        else:
            raise CheckpointError(f"{folder}: unexpected weight {name!r} in a BERT checkpoint")
    for (layer, kind), parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            raise CheckpointError(f"{folder}: layer {layer} lacks one of query/key/value {kind}")
        out[f"encoder.layers.{layer}.attention.qkv.{kind}"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    return {k: v.to(torch.float32).contiguous() for k, v in out.items()}


def hf_tokenizer(folder: Path, max_length: int) -> TextTokenizer:
    """tokenizer.json when present (its baked-in padding/truncation are cleared), else vocab.txt."""
    if (folder / "tokenizer.json").is_file():
        return TextTokenizer(Tokenizer.from_file(str(folder / "tokenizer.json")), max_length)
    if not (folder / "vocab.txt").is_file():
        raise CheckpointError(f"{folder}: neither tokenizer.json nor vocab.txt found")
    options = _read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return TextTokenizer(wordpiece_from_vocab(vocab, lowercase=options.get("do_lower_case", True)), max_length)


def sentence_transformers_options(folder: Path, config: BertConfig) -> tuple[str, int]:
    """Pooling mode and max length from sentence-transformers files, else mean pooling and 512 (or the
    tokenizer's own limit, whichever is smaller)."""
    pooling, max_length = "mean", min(512, config.max_position_embeddings)
    if (folder / "modules.json").is_file():
        for module in _read_json(folder / "modules.json"):
            if module.get("type", "").endswith(".Pooling"):
                pooling = _pooling_mode(_read_json(folder / module["path"] / "config.json"), folder / module["path"])
    if (folder / "sentence_bert_config.json").is_file():
        max_length = _read_json(folder / "sentence_bert_config.json").get("max_seq_length", max_length)
    elif (folder / "tokenizer_config.json").is_file():
        max_length = min(max_length, int(_read_json(folder / "tokenizer_config.json").get("model_max_length", max_length)))
    return pooling, min(max_length, config.max_position_embeddings)


def _pooling_mode(options: dict, where: Path) -> str:
    if options.get("pooling_mode_mean_tokens"):
        return "mean"
    if options.get("pooling_mode_cls_token"):
        return "cls"
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


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot read JSON ({exc})") from None

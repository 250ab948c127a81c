"""The Hugging Face BERT format next to ours: config keys, pooling options and weight names, one
table each, read in both directions by `hf_import` (theirs -> ours) and `hf_export` (ours -> theirs),
so that the two can never disagree on a name.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from .checkpoint import CheckpointError
from .config import BertConfig

# Their `hidden_act` -> our activation. Both tanh forms are the same function; the last one listed
# (torch's own tanh GELU, what our model computes) is what an export writes.
HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}
_EXPORT_ACTIVATIONS = {ours: theirs for theirs, ours in HF_ACTIVATIONS.items()}

# (their config key, our BertConfig field). Their defaults are BERT-base, as ours are, so a key absent
# from a config.json keeps our default.
_CONFIG_KEYS = (
    ("vocab_size", "vocab_size"),
    ("hidden_size", "hidden_size"),
    ("num_hidden_layers", "num_layers"),
    ("num_attention_heads", "num_heads"),
    ("intermediate_size", "intermediate_size"),
    ("max_position_embeddings", "max_position_embeddings"),
    ("type_vocab_size", "type_vocab_size"),
    ("layer_norm_eps", "layer_norm_eps"),
    ("hidden_dropout_prob", "dropout"),
    ("pad_token_id", "pad_token_id"),
    ("initializer_range", "initializer_range"),
)

# sentence-transformers' Pooling option for each of our pooling modes (1_Pooling/config.json).
POOLING_KEYS = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token"}

# (their weight-name prefix without "bert.", ours); {i} is a layer number. Q, K and V, separate in
# theirs and fused into one projection in ours, are the one mapping that is not a rename.
_WEIGHT_PREFIXES = (
    ("embeddings.word_embeddings.", "embeddings.word."),
    ("embeddings.position_embeddings.", "embeddings.position."),
    ("embeddings.token_type_embeddings.", "embeddings.token_type."),
    ("embeddings.LayerNorm.", "embeddings.norm."),
    ("encoder.layer.{i}.attention.output.dense.", "encoder.layers.{i}.attention.output."),
    ("encoder.layer.{i}.attention.output.LayerNorm.", "encoder.layers.{i}.attention_norm."),
    ("encoder.layer.{i}.intermediate.dense.", "encoder.layers.{i}.feed_forward.intermediate."),
    ("encoder.layer.{i}.output.dense.", "encoder.layers.{i}.feed_forward.output."),
    ("encoder.layer.{i}.output.LayerNorm.", "encoder.layers.{i}.output_norm."),
    ("pooler.dense.", "pooler.dense."),
    ("cls.predictions.transform.dense.", "mlm_head.dense."),
    ("cls.predictions.transform.LayerNorm.", "mlm_head.norm."),
    ("cls.predictions.bias", "mlm_head.decoder.bias"),
    ("cls.seq_relationship.", "nsp_head.classifier."),
)
_QKV_PARTS = ("query", "key", "value")
_THEIR_QKV = re.compile(r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.(weight|bias)$")
_OUR_QKV = re.compile(r"encoder\.layers\.(\d+)\.attention\.qkv\.(weight|bias)$")
# Old spellings and tensors we do not store: a position-id buffer, and the MLM decoder's weight, which
# is the word-embedding matrix.
_THEIR_SPELLINGS = (("LayerNorm.gamma", "LayerNorm.weight"), ("LayerNorm.beta", "LayerNorm.bias"),
                    ("cls.predictions.decoder.bias", "cls.predictions.bias"))
_IGNORED = re.compile(r"(position_ids$|cls\.predictions\.decoder\.weight$)")


def _compile(source: str, target: str) -> tuple[re.Pattern[str], str]:
    return re.compile(re.escape(source).replace(re.escape("{i}"), r"(\d+)")), target.replace("{i}", r"\1")


_TO_OURS = [_compile(theirs, ours) for theirs, ours in _WEIGHT_PREFIXES]
_TO_THEIRS = [_compile(ours, theirs) for theirs, ours in _WEIGHT_PREFIXES]


def _rename(name: str, table: list[tuple[re.Pattern[str], str]]) -> str | None:
    for pattern, replacement in table:
        if match := pattern.match(name):
            return match.expand(replacement) + name[match.end():]
    return None


def config_from_hf(raw: dict[str, Any], where: str) -> BertConfig:
    """Our config from their config.json; refuses what our architecture cannot hold."""
    if raw.get("model_type", "bert") != "bert":
        raise CheckpointError(f"{where}: model_type {raw['model_type']!r} is not a BERT")
    if raw.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(f"{where}: only absolute position embeddings are supported")
    activation = raw.get("hidden_act", "gelu")
    if activation not in HF_ACTIVATIONS:
        raise CheckpointError(f"{where}: unsupported hidden_act {activation!r}")
    sizes = {ours: raw[theirs] for theirs, ours in _CONFIG_KEYS if raw.get(theirs) is not None}
    return BertConfig(**sizes, activation=HF_ACTIVATIONS[activation])


def config_to_hf(config: BertConfig) -> dict[str, Any]:
    """Their config.json for our config: a `BertModel`, as `transformers.AutoModel` loads it."""
    values = config.to_dict()
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        **{theirs: values[ours] for theirs, ours in _CONFIG_KEYS},
        "hidden_act": _EXPORT_ACTIVATIONS[config.activation],
        "attention_probs_dropout_prob": config.dropout,  # ours has one dropout rate for both
        "position_embedding_type": "absolute",
    }


def weights_from_hf(raw: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """Our weight names from their state dict (with or without the "bert." prefix), Q, K and V fused."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for name, tensor in raw.items():
        name = name.removeprefix("bert.")
        for old, new in _THEIR_SPELLINGS:
            name = name.replace(old, new)
        if _IGNORED.search(name):
            continue
        if match := _THEIR_QKV.match(name):
            layer, part, kind = match.groups()
            qkv.setdefault((layer, kind), {})[part] = tensor
        elif (renamed := _rename(name, _TO_OURS)) is not None:
            out[renamed] = tensor
        else:
            raise CheckpointError(f"{where}: unexpected weight {name!r} in a BERT checkpoint")
    for (layer, kind), parts in qkv.items():
        if set(parts) != set(_QKV_PARTS):
            raise CheckpointError(f"{where}: layer {layer} lacks one of query/key/value {kind}")
        out[f"encoder.layers.{layer}.attention.qkv.{kind}"] = torch.cat([parts[part] for part in _QKV_PARTS])
    return {k: v.to(torch.float32).contiguous() for k, v in out.items()}


def weights_to_hf(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Their names for our weights (a `BertModel`'s, without the "bert." prefix), Q, K and V split."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in weights.items():
        if match := _OUR_QKV.match(name):
            layer, kind = match.groups()
            for part, chunk in zip(_QKV_PARTS, tensor.chunk(len(_QKV_PARTS))):
                out[f"encoder.layer.{layer}.attention.self.{part}.{kind}"] = chunk.contiguous()
        elif (renamed := _rename(name, _TO_THEIRS)) is not None:
            out[renamed] = tensor.contiguous()
        else:
            raise CheckpointError(f"no Hugging Face name for our weight {name!r}")
    return out

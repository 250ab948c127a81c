"""Convert our checkpoint folder into a Hugging Face BERT folder that `transformers.AutoModel` and
`sentence_transformers.SentenceTransformer` load as they are, the reverse of `hf_import`.

Writes the backbone (a `BertModel`; pretraining heads are left behind) in float32, the tokenizer as
`tokenizer.json` and as `vocab.txt`, and sentence-transformers' modules (Transformer, Pooling as the
checkpoint pools, Normalize), so that their `encode` gives the vectors our `Encoder.encode` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save

from .atomic import atomic_write
from .checkpoint import HEAD_PREFIXES, CheckpointError, load_checkpoint
from .hf_format import POOLING_KEYS, config_to_hf, weights_to_hf
from .tokenizer import SPECIAL_TOKENS, TextTokenizer

_SPECIAL_NAMES = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")  # SPECIAL_TOKENS' order
_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


def export_hf(source: str | Path, destination: str | Path) -> Path:
    """Write the Hugging Face BERT folder `destination` from our checkpoint folder `source`."""
    checkpoint = load_checkpoint(source)
    folder = Path(destination)
    if folder.resolve() == Path(source).resolve():
        raise CheckpointError(f"{folder}: export into the checkpoint's own folder would overwrite it")
    (folder / "1_Pooling").mkdir(parents=True, exist_ok=True)
    backbone = {k: v.to(torch.float32) for k, v in checkpoint.weights.items() if not k.startswith(HEAD_PREFIXES)}
    weights = weights_to_hf(backbone)
    # Bytes written by Python get the umask's permissions; safetensors' save_file makes the file owner-only.
    atomic_write(folder / "model.safetensors", lambda tmp: tmp.write_bytes(save(weights, metadata={"format": "pt"})))
    atomic_write(folder / "tokenizer.json", checkpoint.tokenizer.save)
    specials = dict(zip(_SPECIAL_NAMES, SPECIAL_TOKENS))
    files: dict[str, Any] = {
        "config.json": config_to_hf(checkpoint.config),
        "vocab.txt": _vocab(checkpoint.tokenizer),
        "tokenizer_config.json": {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": _lowercases(checkpoint.tokenizer),
            "tokenize_chinese_chars": True,
            "strip_accents": None,
            "model_max_length": checkpoint.max_length,
            **specials,
        },
        "special_tokens_map.json": specials,
        "modules.json": _MODULES,
        "1_Pooling/config.json": {
            "word_embedding_dimension": checkpoint.config.hidden_size,
            **{key: mode == checkpoint.pooling for mode, key in POOLING_KEYS.items()},
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
        "sentence_bert_config.json": {"max_seq_length": checkpoint.max_length, "do_lower_case": False},
    }
    for name, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content, indent=2) + "\n"
        atomic_write(folder / name, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
    return folder


def _vocab(tokenizer: TextTokenizer) -> str:
    """vocab.txt: one word piece per line, line i holding id i (what a slow BertTokenizer reads)."""
    return "".join(f"{tokenizer.tokenizer.id_to_token(i)}\n" for i in range(tokenizer.vocab_size))


def _lowercases(tokenizer: TextTokenizer) -> bool:
    """Whether the tokenizer's BERT normaliser lower-cases, as an uncased model's does."""
    normalizer = json.loads(tokenizer.tokenizer.to_str()).get("normalizer") or {}
    return bool(normalizer.get("lowercase", False))

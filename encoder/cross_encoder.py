"""`CrossEncoder`: a reranker checkpoint that scores (query, passage) pairs by reading them together.

A bi-encoder (`Encoder`) compares two vectors made apart; a cross-encoder attends across the query and
the passage in every layer, so it sees which passage words answer which query words. That costs one
forward pass per pair, which is why it rescores a search's top candidates rather than the collection.
The checkpoint is the ordinary folder format (`checkpoint.py`) holding the backbone and the NSP head
that `BertForPairScoring` scores with.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, fraction_setting, load_checkpoint, save_checkpoint
from .model import BertForPairScoring
from .precision import INT8, WEIGHTS_IN_BF16, autocast, compute_dtype
from .text_encoder import as_text, batches_by_length
from .tokenizer import TextTokenizer

TASK = "pair-scoring"  # what a reranker's config.json says it is (`task`)
# A reranker's config.json may also name how much of the first stage's order to keep (`blended`),
# chosen for it on dev queries by `train-reranker --dev` (or bench/rerank_quality.py --save); none: 0.
FIRST_STAGE_WEIGHT_KEY = "first_stage_weight"


def blended(scores: np.ndarray, first_stage_weight: float) -> np.ndarray:
    """A reranker's scores of a head of candidates, given in the first stage's order, mixed with that
    order: each side scaled to [0, 1] over the head (the scores from their lowest to their highest,
    the positions from the last to the first), then `first_stage_weight` of the first stage's and the
    rest of the reranker's. A reranker that is right more often than its first stage but not always
    gains from keeping some of the first stage (Nogueira and Cho's monoBERT, and most BEIR rerankers,
    interpolate so). Positions rather than the first stage's own scores, so one weight serves any first
    stage: BM25's in the dev check it is chosen on, hybrid's in search. Weight 0 returns the scores as
    they are."""
    scores = np.asarray(scores, dtype=np.float64)
    if not first_stage_weight or len(scores) == 0:
        return scores
    span = float(scores.max() - scores.min())
    own = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    order = 1.0 - np.arange(len(scores)) / max(len(scores) - 1, 1)
    return first_stage_weight * order + (1 - first_stage_weight) * own


def first_stage_weight(settings: dict, folder: object = "the reranker") -> float:
    """The weight a reranker's settings (its config.json beyond the network) name, else 0."""
    return fraction_setting(settings, FIRST_STAGE_WEIGHT_KEY, 0.0, folder)


class CrossEncoder:
    """A `BertForPairScoring` and its tokenizer, ready to score pairs. Pairs longer than `max_length`
    tokens lose tokens from the longer side first (the passage, nearly always), so the query is read whole."""

    def __init__(self, model: BertForPairScoring, tokenizer: TextTokenizer, precision: str = "auto",
                 device: str | torch.device | None = None, first_stage_weight: float = 0.0) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.precision = precision
        self.compute_dtype = compute_dtype(self.model, precision, self.device)
        self.first_stage_weight = first_stage_weight  # how much of the first stage's order a reranking keeps (`blended`)

    @classmethod
    def load(cls, path: str | Path, precision: str = "auto", device: str | torch.device | None = None,
             max_length: int | None = None) -> "CrossEncoder":
        """Load a reranker folder; `max_length` (at most the saved one) trades accuracy for speed.
        `precision` is an `Encoder`'s, or INT8 (`quantized`)."""
        checkpoint = load_checkpoint(path)
        if checkpoint.extra.get("task") != TASK:
            raise CheckpointError(f"{path}: not a reranker (its config.json has no \"task\": \"{TASK}\"); "
                                  f"train one with `manage.py train-reranker`")
        if max_length:
            checkpoint.tokenizer.set_max_length(min(max_length, checkpoint.max_length))
        loaded = cls(checkpoint.build(BertForPairScoring), checkpoint.tokenizer, "float32" if precision == INT8 else precision,
                     device, first_stage_weight(checkpoint.extra, path))
        return loaded.quantized() if precision == INT8 else loaded

    def quantized(self) -> "CrossEncoder":
        """This reranker with its linear layers' weights in int8 and their activations quantized per
        batch (PyTorch's dynamic quantization, CPU only): about 2.5x faster on an AVX2 CPU, scores
        within about 0.01 of float32's (docs/benchmarks.md, "Reranking"). Embeddings, LayerNorms and
        softmax stay float32."""
        if self.precision == WEIGHTS_IN_BF16:
            raise ValueError(f"int8 quantizes float32 linear layers; load the reranker at another precision than {WEIGHTS_IN_BF16!r}")
        with warnings.catch_warnings():  # torch.ao's eager quantization says it will move to torchao; it still works
            warnings.simplefilter("ignore")
            model = torch.ao.quantization.quantize_dynamic(self.model.cpu(), {torch.nn.Linear}, dtype=torch.qint8)
        return CrossEncoder(model, self.tokenizer, "float32", "cpu", self.first_stage_weight)

    def save(self, path: str | Path, extra: dict | None = None) -> Path:
        return save_checkpoint(path, self.model, self.tokenizer, max_length=self.max_length,
                               extra={**(extra or {}), "task": TASK, FIRST_STAGE_WEIGHT_KEY: self.first_stage_weight})

    @property
    def max_length(self) -> int:
        return self.tokenizer.max_length

    def score(self, query: str | bytes, passages: Sequence[str | bytes], batch_size: int = 32) -> np.ndarray:
        """float32 relevance scores, one per passage, higher is more relevant (a logit margin: only the
        order and the differences mean anything)."""
        text = as_text(query, 0)
        clean = [as_text(passage, i) for i, passage in enumerate(passages)]
        out = np.empty(len(clean), dtype=np.float32)
        if not clean:
            return out
        encodings = self.tokenizer.encode([text] * len(clean), clean)
        with torch.inference_mode(), autocast(self.device, self.compute_dtype):
            for rows in batches_by_length(encodings, batch_size):
                batch = self.tokenizer.pad([encodings[i] for i in rows])
                unpadded = bool(batch.attention_mask.all())  # then SDPA takes its mask-free path
                batch = batch.to(self.device)
                scores = self.model(batch.input_ids, batch.token_type_ids, None if unpadded else batch.attention_mask)
                out[rows] = scores.float().cpu().numpy()
        return out

"""`Encoder`: texts in, L2-normalised float32 vectors out. The one seam the indexer and the app use.

Speed comes from three things, in order of effect: bf16 matrix products on CPUs (and GPUs) that have
native bf16 instructions, sorting the texts by token length so each batch is padded only to its own
longest member, and `torch.inference_mode` (no autograd bookkeeping).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Encoding
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .config import POOLING_MODES
from .model import BertModel
from .precision import autocast, compute_dtype
from .tokenizer import TextTokenizer

# Tokenising a whole book to keep its first 256 tokens wastes seconds, so texts are first cut, at a
# whitespace, to this many characters per token of max_length; the cut is undone for a text whose
# clipped form came out short (see `_tokenize`), so the result is always that of the full text.
_CHARS_PER_TOKEN_CLIP = 16
_LAST_WHITESPACE = re.compile(r"\s\S*\Z")


def passage_text(title: str, passage: str) -> str:
    """What is encoded (and BM25-indexed) for a passage of a document: its title gives it context. The
    indexer encodes passages so, and the training's evaluation reads them so, to judge a model by what
    search will ask of it."""
    return f"{title}\n{passage}" if title else passage


def set_threads(count: int) -> None:
    """Threads torch uses in this process. A server runs one process per core, each encoding one short
    query at a time, where extra threads only contend with the other processes."""
    torch.set_num_threads(max(1, count))


def as_text(value: object, position: int) -> str:
    """Give every caller-supplied value a defined meaning: str as is (lone surrogates replaced, since
    the Rust tokenizer cannot take them), bytes decoded as UTF-8 with undecodable bytes replaced by
    U+FFFD, anything else a TypeError naming its position."""
    if isinstance(value, str):
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", errors="replace").decode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    raise TypeError(f"texts[{position}] is {type(value).__name__}, expected str or bytes")


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Sentence vector from token states: the mean over real tokens ([CLS]/[SEP] included, as
    sentence-transformers does), or the [CLS] state itself."""
    if mode == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)



def batches_by_length(encodings: Sequence[Encoding], batch_size: int) -> Iterator[np.ndarray]:
    """Row numbers of `encodings` in batches, longest first: batches of similar length waste little on
    padding, and the first batch (the most memory-hungry) shows at once whether the batch size fits."""
    order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]

@dataclass(frozen=True)
class TokenVectors:
    """One text's contextual token vectors: the last layer's states of its word pieces (special tokens
    left out), float32 and L2-normalised, row i for piece i. What explains a match word by word."""

    vectors: np.ndarray  # (pieces, dim)
    offsets: np.ndarray  # (pieces, 2): each piece's [start, end) in the text, in characters
    words: np.ndarray  # (pieces,): which word of the text (the pre-tokeniser's split) each piece belongs to
    sentence: np.ndarray  # (dim,): the text's vector, as `Encoder.encode` gives it, from the same forward pass
    truncated: bool  # pieces past max_length were dropped, as `encode` drops them


class Encoder:
    """A BERT checkpoint ready to turn texts into unit vectors."""

    def __init__(
        self,
        model: BertModel,
        tokenizer: TextTokenizer,
        pooling: str = "mean",
        precision: str = "auto",
        device: str | torch.device | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        if pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}, not {pooling!r}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.precision = precision
        self.compute_dtype = compute_dtype(self.model, precision, self.device)
        # What the checkpoint's config.json says beyond the network (Checkpoint.extra): settings tuned
        # for this model by what uses it, such as hybrid search's dense share (indexer/retrieval.py).
        # The encoder does not read them; it keeps them, and saves them with the model.
        self.settings = dict(settings or {})

    @classmethod
    def load(cls, path: str | Path, precision: str = "auto", device: str | torch.device | None = None,
             pooling: str | None = None) -> "Encoder":
        """Load a checkpoint folder; `pooling` overrides the one it was saved with."""
        checkpoint = load_checkpoint(path)
        return cls(checkpoint.build(BertModel), checkpoint.tokenizer, pooling or checkpoint.pooling, precision, device,
                   checkpoint.extra)

    def save(self, path: str | Path) -> Path:
        return save_checkpoint(path, self.model, self.tokenizer, pooling=self.pooling, max_length=self.max_length,
                               extra=self.settings)

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    @property
    def max_length(self) -> int:
        return self.tokenizer.max_length

    def encode(self, texts: Iterable[str | bytes] | str | bytes, batch_size: int = 64, show_progress: bool = False,
               on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Return float32 (n, dim) L2-normalised vectors, row i for texts[i].

        Texts longer than `max_length` tokens are truncated; empty and whitespace-only texts both
        encode as the empty sequence `[CLS] [SEP]`; a single str or bytes counts as a list of one.
        `on_batch(count)` is told after each batch how many texts it encoded, so that a caller's own
        progress can move while a long call runs.
        """
        if isinstance(texts, (str, bytes, bytearray)):
            texts = [texts]
        clean = [as_text(value, i) for i, value in enumerate(texts)]
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        out = np.empty((len(clean), self.dim), dtype=np.float32)
        if not clean:
            return out
        encodings = self._tokenize(clean)
        with torch.inference_mode(), autocast(self.device, self.compute_dtype), tqdm(total=len(clean), unit="doc", disable=not show_progress) as bar:
            for rows in batches_by_length(encodings, batch_size):
                out[rows] = self._encode_batch([encodings[i] for i in rows])
                bar.update(len(rows))
                if on_batch:
                    on_batch(len(rows))
        return out

    def token_vectors(self, text: str | bytes) -> TokenVectors:
        """The contextual vectors of one text's word pieces, from the forward pass (tokenisation,
        truncation to max_length, precision) that `encode([text])` makes, whose vector comes along."""
        encoding = self._tokenize([as_text(text, 0)])[0]
        with torch.inference_mode(), autocast(self.device, self.compute_dtype):
            hidden, mask = self._hidden([encoding])
            sentence = F.normalize(pool(hidden, mask, self.pooling), dim=-1)[0].cpu().numpy()
        real = ~np.asarray(encoding.special_tokens_mask, dtype=bool)
        return TokenVectors(F.normalize(hidden[0], dim=-1).cpu().numpy()[real],
                            np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)[real],
                            np.array([word for word in encoding.word_ids if word is not None], dtype=np.int64),
                            sentence, bool(encoding.overflowing))

    def _encode_batch(self, encodings: Sequence[Encoding]) -> np.ndarray:
        hidden, mask = self._hidden(encodings)
        return F.normalize(pool(hidden, mask, self.pooling), dim=-1).cpu().numpy()

    def _hidden(self, encodings: Sequence[Encoding]) -> tuple[torch.Tensor, torch.Tensor]:
        """The last layer's states of a batch, in float32, and its attention mask (on the device)."""
        batch = self.tokenizer.pad(encodings)
        unpadded = bool(batch.attention_mask.all())  # checked on the CPU, before the copy to the device
        batch = batch.to(self.device)
        hidden = self.model(batch.input_ids, batch.token_type_ids, None if unpadded else batch.attention_mask)
        return hidden.float(), batch.attention_mask

    def _tokenize(self, texts: list[str]) -> list[Encoding]:
        limit = self.max_length * _CHARS_PER_TOKEN_CLIP
        clipped = [_clip_at_whitespace(text, limit) for text in texts]
        encodings = self.tokenizer.encode(clipped)
        # A clipped text that still fills max_length tokens gave exactly the full text's tokens (the
        # cut fell between words, past the last kept token); one that came out short is redone whole.
        redo = [i for i, e in enumerate(encodings) if len(clipped[i]) < len(texts[i]) and len(e.ids) < self.max_length]
        for i, encoding in zip(redo, self.tokenizer.encode([texts[i] for i in redo])):
            encodings[i] = encoding
        return encodings


def _clip_at_whitespace(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    match = _LAST_WHITESPACE.search(text, 0, limit)
    return text[: match.start()] if match else text

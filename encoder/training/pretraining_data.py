"""Pretraining examples: `[CLS] A [SEP] B [SEP]` pairs for MLM + NSP, built once into compact shards.

The prepare step does everything that needs the CPU (reading, sentence splitting, WordPiece,
pairing) and writes fixed-width uint16/uint32 arrays, so training only indexes arrays that sit on
the device; masking is left to training time so that every epoch sees new masks.

Segments follow the BERT recipe: sentences of one document are gathered until they fill the target
length, split at a random sentence boundary into A and B; half of the time B is replaced by a run
of sentences from another document (NSP label 1), and the unused sentences go back to be used next.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..flags import setting
from ..sentences import split_sentences
from ..tokenizer import TextTokenizer
from .corpus import Document

IS_NEXT, NOT_NEXT = 0, 1  # NSP labels, in the order Hugging Face's BERT checkpoints use
META_FILE = "meta.json"


@dataclass
class PrepareConfig:
    """How examples are cut; stored beside the shards so training knows what it reads."""

    max_length: int = setting(128, "tokens per example, [CLS] and [SEP]s included")
    random_next_prob: float = setting(0.5, "share of examples whose B is not A's continuation")
    shard_examples: int = setting(200_000, "examples per shard file")
    tokenize_batch_docs: int = setting(512, "documents tokenised per call: the Rust tokenizer then uses all cores")
    other_documents_kept: int = setting(2000, "recent documents a random B is drawn from")
    seed: int = setting(0, "seed of the segment cuts and of the random Bs")


@dataclass
class Examples:
    """A set of packed examples: ids (n, max_length), and per row the lengths of A and of A+B with specials."""

    input_ids: np.ndarray
    a_lengths: np.ndarray
    lengths: np.ndarray
    nsp_labels: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    def token_type_ids(self) -> np.ndarray:
        """Segment 0 up to and including the first [SEP], 1 for B and its [SEP], 0 on padding."""
        positions = np.arange(self.input_ids.shape[1])[None, :]
        return ((positions >= self.a_lengths[:, None] + 2) & (positions < self.lengths[:, None])).astype(np.int64)


def tokenized_documents(documents: Iterable[Document], tokenizer: TextTokenizer, batch_docs: int) -> Iterator[list[list[int]]]:
    """Each document as a list of sentences of word-piece ids, tokenised many documents per call."""
    batch: list[list[str]] = []
    for document in documents:
        batch.append([s for p in document.paragraphs for s in split_sentences(p)])
        if len(batch) == batch_docs:
            yield from _tokenize_batch(batch, tokenizer)
            batch = []
    if batch:
        yield from _tokenize_batch(batch, tokenizer)


def _tokenize_batch(batch: list[list[str]], tokenizer: TextTokenizer) -> Iterator[list[list[int]]]:
    flat = [s for sentences in batch for s in sentences]
    encoded = tokenizer.tokenizer.encode_batch(flat, add_special_tokens=False)
    start = 0
    for sentences in batch:
        ids = [e.ids for e in encoded[start:start + len(sentences)]]
        start += len(sentences)
        if ids:
            yield [s for s in ids if s]


class PairBuilder:
    """Turns a stream of tokenised documents into (A, B, label) segment pairs."""

    def __init__(self, config: PrepareConfig) -> None:
        self.config = config
        self.target = config.max_length - 3  # room for [CLS] and two [SEP]
        self.rng = random.Random(config.seed)
        self.others: deque[list[list[int]]] = deque(maxlen=config.other_documents_kept)

    def pairs(self, document: list[list[int]]) -> Iterator[tuple[list[int], list[int], int]]:
        i = 0
        while i < len(document):
            chunk, size = [], 0
            while i < len(document) and size < self.target:
                chunk.append(document[i])
                size += len(document[i])
                i += 1
            # A one-sentence chunk (a stub, or a document's last sentence) is cut inside the sentence,
            # so it can still give a real continuation and the labels stay balanced.
            pieces = chunk if len(chunk) >= 2 else self._halves(chunk[0])
            if len(pieces) < 2:
                continue
            a_end = self.rng.randint(1, len(pieces) - 1)
            a = [t for piece in pieces[:a_end] for t in piece]
            if self.others and self.rng.random() < self.config.random_next_prob:
                b, label = self._random_segment(self.target - len(a)), NOT_NEXT
                if pieces is chunk:
                    i -= len(chunk) - a_end  # the unused sentences start the next chunk
            else:
                b, label = [t for piece in pieces[a_end:] for t in piece], IS_NEXT
            yield (*self._truncate(a, b), label)
        self.others.append(document)

    def _halves(self, sentence: list[int]) -> list[list[int]]:
        if len(sentence) < 2:
            return [sentence]
        cut = self.rng.randint(1, len(sentence) - 1)
        return [sentence[:cut], sentence[cut:]]

    def _random_segment(self, length: int) -> list[int]:
        if not self.others:
            return []
        document = self.rng.choice(self.others)
        start = self.rng.randrange(len(document))
        segment: list[int] = []
        for sentence in document[start:]:
            segment.extend(sentence)
            if len(segment) >= length:
                break
        return segment[: max(length, 1)]

    def _truncate(self, a: list[int], b: list[int]) -> tuple[list[int], list[int]]:
        """Trim the longer segment, from the front or the back at random, until the pair fits."""
        a, b = list(a), list(b)
        while len(a) + len(b) > self.target:
            longer = a if len(a) > len(b) else b
            if self.rng.random() < 0.5:
                del longer[0]
            else:
                longer.pop()
        return a, b


def pack(pairs: list[tuple[list[int], list[int], int]], tokenizer: TextTokenizer, max_length: int) -> Examples:
    """Write pairs into fixed-width arrays (uint16 when the vocabulary fits, else uint32)."""
    dtype = np.uint16 if tokenizer.vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32
    ids = np.full((len(pairs), max_length), tokenizer.pad_id, dtype=dtype)
    a_lengths = np.empty(len(pairs), dtype=np.uint16)
    lengths = np.empty(len(pairs), dtype=np.uint16)
    labels = np.empty(len(pairs), dtype=np.uint8)
    cls, sep = tokenizer.cls_id, tokenizer.sep_id
    for row, (a, b, label) in enumerate(pairs):
        sequence = [cls, *a, sep, *b, sep]
        ids[row, : len(sequence)] = sequence
        a_lengths[row], lengths[row], labels[row] = len(a), len(sequence), label
    return Examples(ids, a_lengths, lengths, labels)


def prepare_pretraining(
    documents: Iterable[Document], tokenizer: TextTokenizer, output_dir: str | Path, config: PrepareConfig,
    show_progress: bool = True,
) -> Path:
    """Build shards `shard_00000.npz`, … and `meta.json` in output_dir; return output_dir."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    builder = PairBuilder(config)
    pending: list[tuple[list[int], list[int], int]] = []
    counts = {"examples": 0, "tokens": 0, "documents": 0, "shards": 0}

    def flush() -> None:
        examples = pack(pending, tokenizer, config.max_length)
        np.savez(folder / f"shard_{counts['shards']:05d}.npz", **_arrays(examples))
        counts["shards"] += 1
        counts["examples"] += len(examples)
        counts["tokens"] += int(examples.lengths.sum())
        pending.clear()

    with tqdm(unit="doc", desc="prepare", disable=not show_progress) as bar:
        for document in tokenized_documents(documents, tokenizer, config.tokenize_batch_docs):
            pending.extend(builder.pairs(document))
            counts["documents"] += 1
            bar.update(1)
            if len(pending) >= config.shard_examples:
                flush()
    if pending:
        flush()
    meta = {**counts, "vocab_size": tokenizer.vocab_size, "config": asdict(config)}
    (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def _arrays(examples: Examples) -> dict[str, np.ndarray]:
    return {"input_ids": examples.input_ids, "a_lengths": examples.a_lengths, "lengths": examples.lengths, "nsp_labels": examples.nsp_labels}


def read_meta(folder: str | Path) -> dict:
    """What `prepare_pretraining` wrote beside the shards: counts, vocabulary size and its config."""
    return json.loads((Path(folder) / META_FILE).read_text())


def load_examples(folder: str | Path) -> Examples:
    """All shards of a prepared folder and its subfolders (one per parallel worker), concatenated: a few
    hundred MB at most for the corpora we carry."""
    folder = Path(folder)
    shards = sorted(folder.rglob("shard_*.npz"))
    if not shards:
        raise FileNotFoundError(f"{folder}: no shard_*.npz files (run prepare-pretraining first)")
    parts = [np.load(shard) for shard in shards]
    return Examples(*(np.concatenate([p[name] for p in parts]) for name in ("input_ids", "a_lengths", "lengths", "nsp_labels")))

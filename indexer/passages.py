"""Documents -> passages -> vectors: what an upsert computes before it writes anything.

A document's content hash decides whether it changed (an unchanged one is never encoded again); a
changed one is cut into passages that leave room for its title, which is encoded with each of them,
and the passages are encoded a bounded number at a time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from encoder import Encoder, passage_text

from .chunking import Chunk, chunk_texts
from .readers import Record
from .store import DocumentVersion

TITLE_TOKENS = 24  # room left in each passage for the title, which is encoded with it
# Passages encoded per call: their word pieces and vectors are all in memory at once, so a batch of
# long documents must not hold as many as a batch of short ones (see ingest.BATCH_CHARS).
ENCODE_PASSAGES = 4096


@dataclass
class Upserted:
    """What an upsert did with its documents."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0  # same content hash: skipped before any encoding
    chunks: int = 0  # passages written


def content_hash(record: Record) -> str:
    """What decides "changed": title, text and metadata, not where the record was read from. Never
    raises: a lone surrogate (which check_record replaces, but a caller may hash first) is hashed as
    it stands, and every other text hashes as it always has."""
    payload = json.dumps([record.title, record.text, record.metadata], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def changed(records: Iterable[Record], stored: dict[str, tuple[int, str]]) -> list[tuple[Record, str]]:
    """The records whose content differs from what is `stored` ((key, content hash) by id), each
    with its content hash: the others cost a hash, never an encoding."""
    hashed = ((r, content_hash(r)) for r in records)
    return [(r, digest) for r, digest in hashed if stored.get(r.external_id, (None, None))[1] != digest]


def document_versions(changed: Sequence[tuple[Record, str]], stored: dict[str, tuple[int, str]], encoder: Encoder,
                      overlap_tokens: int, batch_size: int, on_encoded: Callable[[int, int], None]) -> tuple[list[DocumentVersion], np.ndarray]:
    """The changed records as the store will hold them, cut into passages, and the vectors of those
    passages in order; `on_encoded(count, of)` after each encoder batch."""
    records = [r for r, _ in changed]
    passages = cut_passages(records, encoder, overlap_tokens)
    documents = [DocumentVersion(stored.get(r.external_id, (None,))[0], r.external_id, r.title, r.text, r.metadata, digest, ps)
                 for (r, digest), ps in zip(changed, passages)]
    return documents, encode_passages(encoder, records, passages, batch_size, on_encoded)


def cut_passages(records: Sequence[Record], encoder: Encoder, overlap_tokens: int) -> list[list[Chunk]]:
    """The passages of each record's text, each short enough to be encoded with its title."""
    max_tokens = max(8, encoder.max_length - 2 - TITLE_TOKENS)
    passages = chunk_texts([r.text for r in records], encoder.tokenizer, max_tokens, min(overlap_tokens, max_tokens // 2))
    # Text the tokenizer drops whole (control characters, say) still gets one passage, so that every
    # stored document is findable and `check` holds.
    return [ps or [Chunk(0, r.text, 0, len(r.text))] for r, ps in zip(records, passages)]


def encode_passages(encoder: Encoder, records: Sequence[Record], passages: Sequence[Sequence[Chunk]], batch_size: int,
                    on_encoded: Callable[[int, int], None] = lambda count, of: None) -> np.ndarray:
    """The vectors of every passage, titled, in order; `on_encoded(count, of)` after each encoder batch."""
    texts = [passage_text(r.title, p.text) for r, ps in zip(records, passages) for p in ps]
    return np.concatenate([encoder.encode(texts[start:start + ENCODE_PASSAGES], batch_size=batch_size,
                                          on_batch=lambda count: on_encoded(count, len(texts)))
                           for start in range(0, len(texts), ENCODE_PASSAGES)])

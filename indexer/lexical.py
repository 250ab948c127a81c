"""The lexical index: BM25 over the same chunks as the vector index, keyed by the same chunk ids.

Dense vectors miss what BM25 never does: exact names, codes, rare words. Hybrid search needs both
over one set of passages, so this index is rebuilt from the store's chunks whenever the vector index
is saved, and saved beside it under the same version. bm25s keeps the scores as a sparse matrix that
loads memory-mapped, so app processes share it as they share the FAISS file.

One analyzer (`terms`, `term_spans`) serves indexing, querying and the highlighting of snippets, so
a word is highlighted exactly when BM25 would match it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

# BM25 parameters that suit short passages (Anserini's BEIR defaults; FACTS.md's reference run).
K1 = 0.9
B = 0.4
IDS_FILE = "ids.npy"
_WORD = re.compile(r"\w\w+")
_STOPWORDS = frozenset(STOPWORDS_EN)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def term_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, term) of each indexable word of `text`: lower-cased, stop words dropped, stemmed."""
    words = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
    words = [w for w in words if w[2] not in _STOPWORDS]
    stems = _stemmer().stemWords([w[2] for w in words])
    return [(start, end, stem) for (start, end, _), stem in zip(words, stems)]


def terms(text: str) -> list[str]:
    return [term for _, _, term in term_spans(text)]


def matching_spans(text: str, query_terms: set[str]) -> list[tuple[int, int]]:
    """(start, end) of the words of `text` whose term is one of `query_terms`. Stemming changes only
    a word's ending, so only words that start like some term are stemmed: snippets are cut on every
    query, and stemming every word of every passage shown would cost more than the search itself."""
    if not query_terms:
        return []
    prefixes = sorted({re.escape(term[:4]) for term in query_terms}, key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(prefixes) + r")\w*", re.IGNORECASE)
    words = [(m.start(), m.end(), m.group().lower()) for m in pattern.finditer(text)]
    words = [w for w in words if len(w[2]) > 1 and w[2] not in _STOPWORDS]
    stems = _stemmer().stemWords([w[2] for w in words])
    return [(start, end) for (start, end, _), stem in zip(words, stems) if stem in query_terms]


class LexicalIndex:
    """BM25 scores of chunks by id; empty until built."""

    def __init__(self, ids: np.ndarray, bm25: bm25s.BM25 | None) -> None:
        self.ids = ids
        self._bm25 = bm25

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, ids: np.ndarray, texts: Iterable[str]) -> "LexicalIndex":
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return cls(ids, None)
        bm25 = bm25s.BM25(k1=K1, b=B)
        bm25.index([terms(text) for text in texts], show_progress=False)
        return cls(ids, bm25)

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, scores) of the `k` best chunks that share at least one term with `query`."""
        vocabulary = self._bm25.vocab_dict if self._bm25 is not None else {}
        known = [t for t in dict.fromkeys(terms(query)) if t in vocabulary]
        if not known or k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        scores = self._bm25.get_scores(known)
        k = min(k, int(np.count_nonzero(scores)))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")][:k]
        return self.ids[top], scores[top].astype(np.float32)

    def save(self, folder: Path) -> None:
        """Write to `folder`, which must not exist yet: each version gets a folder of its own, so a
        reader never sees a half-written one."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / IDS_FILE, self.ids)
        if self._bm25 is not None:
            self._bm25.save(tmp, show_progress=False)
        else:
            (tmp / "empty.json").write_text(json.dumps({"empty": True}))
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> "LexicalIndex":
        ids = np.load(folder / IDS_FILE, mmap_mode="r" if mmap else None)
        if (folder / "empty.json").exists():
            return cls(np.asarray(ids), None)
        return cls(ids, bm25s.BM25.load(folder, mmap=mmap, show_progress=False))


"""The lexical index: BM25 over the same chunks as the vector index, keyed by the same chunk ids, and
a second one over whole documents, keyed by document.

Dense vectors miss what BM25 never does: exact names, codes, rare words. Hybrid search needs both
over one set of passages, so this index is rebuilt from the store's chunks whenever the vector index
is saved, and saved beside it under the same version. Ranking a document by its best passage loses,
though, where long queries match words spread over a document (docs/benchmarks.md, "BM25 over whole
documents"), so the same index is also built over each document's whole text and saved inside the
passage index's folder; a search setting picks the unit (indexer/retrieval.py).

The scoring is Lucene's BM25 (Kamphuis et al., ECIR 2020), precomputed per (chunk, term) into a
term-major sparse matrix, as bm25s does: a query sums the columns of its terms. It is built here
rather than with bm25s because bm25s wants every tokenised passage as Python lists at once, which
took 2.8 GB for a million short passages; here passages stream from the store in batches into flat
numpy arrays, and the saved arrays load memory-mapped, shared by app processes like the FAISS file.

One analyzer (`terms`, `term_spans`) serves indexing, querying and the highlighting of snippets, so
a word is highlighted exactly when BM25 would match it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import Stemmer

from encoder import atomic_folder

from .checksums import FileRecord, record
from .stopwords import STOPWORDS_EN

# BM25 parameters that suit short passages (Anserini's BEIR defaults; FACTS.md's reference run).
K1 = 0.9
B = 0.4
BUILD_BATCH = 10_000  # passages analysed per step while building
ARRAYS = ("ids", "data", "rows", "indptr")  # saved as NAME.npy
VOCABULARY_FILE = "vocabulary.json"
FILES = tuple(f"{name}.npy" for name in ARRAYS) + (VOCABULARY_FILE,)  # what a saved folder holds
_WORD = re.compile(r"\w\w+")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def term_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, term) of each indexable word of `text`: lower-cased, stop words dropped, stemmed."""
    return _stemmed([(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)])


def terms(text: str) -> list[str]:
    """`term_spans`'s terms, without building their offsets: the form every passage is indexed in and
    every query and feedback text analysed into. It is the hot path (a hybrid search analyses ten
    feedback texts), and skipping the offsets halves its time (docs/benchmarks.md)."""
    return _stems([word for word in map(str.lower, _WORD.findall(text)) if word not in STOPWORDS_EN])


def matching_spans(text: str, query_terms: set[str]) -> list[tuple[int, int]]:
    """(start, end) of the words of `text` whose term is one of `query_terms`. Stemming changes only
    a word's ending, so only words that start like some term are stemmed: snippets are cut on every
    query, and stemming every word of every passage shown would cost more than the search itself."""
    if not query_terms:
        return []
    prefixes = sorted({re.escape(term[:4]) for term in query_terms}, key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(prefixes) + r")\w*", re.IGNORECASE)
    words = [(m.start(), m.end(), m.group().lower()) for m in pattern.finditer(text)]
    return [(start, end) for start, end, stem in _stemmed([w for w in words if len(w[2]) > 1]) if stem in query_terms]


def _stemmed(words: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """(start, end, stem) of the lower-cased `words` that are not stop words: the highlighting's terms,
    which `terms` gives without offsets through the same stop words and stemmer (`_stems`), so that the
    two cannot disagree (tests/indexer/test_lexical.py holds them equal)."""
    words = [w for w in words if w[2] not in STOPWORDS_EN]
    return [(start, end, stem) for (start, end, _), stem in zip(words, _stems([w[2] for w in words]))]


def _stems(words: list[str]) -> list[str]:
    """The stems of lower-cased words, for the index, the queries and the highlighting alike."""
    return _stemmer().stemWords(words)


class LexicalIndex:
    """BM25 weights of texts (chunks, or whole documents) by term: column `t` of the matrix is
    `data[indptr[t]:indptr[t+1]]` at the text positions `rows[...]`; `ids[position]` is the text's id
    (a chunk id, or a document key)."""

    def __init__(self, ids: np.ndarray, vocabulary: dict[str, int], data: np.ndarray, rows: np.ndarray, indptr: np.ndarray) -> None:
        self.ids, self.vocabulary, self.data, self.rows, self.indptr = ids, vocabulary, data, rows, indptr

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> "LexicalIndex":
        return cls(np.empty(0, np.int64), {}, np.empty(0, np.float32), np.empty(0, np.int32), np.zeros(1, np.int64))

    @classmethod
    def build(cls, passages: Iterable[tuple[int, str]], k1: float = K1, b: float = B) -> "LexicalIndex":
        """From (id, text) pairs, read once, in batches; `k1` and `b` are BM25's (bench/tune_bm25.py tries others)."""
        vocabulary: dict[str, int] = {}
        ids, lengths, rows, columns, counts = [], [], [], [], []
        position = 0
        iterator = iter(passages)
        while batch := list(itertools.islice(iterator, BUILD_BATCH)):
            batch_rows, batch_columns, batch_counts = [], [], []
            for chunk_id, text in batch:
                frequencies = Counter(vocabulary.setdefault(term, len(vocabulary)) for term in terms(text))
                batch_rows += [position] * len(frequencies)
                batch_columns += frequencies.keys()
                batch_counts += frequencies.values()
                ids.append(chunk_id)
                lengths.append(sum(frequencies.values()))
                position += 1
            rows.append(np.array(batch_rows, np.int32))
            columns.append(np.array(batch_columns, np.int32))
            counts.append(np.array(batch_counts, np.float32))
        if not ids:
            return cls.empty()
        row, column, weight = (np.concatenate(parts) for parts in (rows, columns, counts))
        del rows, columns, counts
        length = np.array(lengths, np.float32)
        document_frequency = np.bincount(column, minlength=len(vocabulary))
        idf = np.log1p((len(ids) - document_frequency + 0.5) / (document_frequency + 0.5)).astype(np.float32)
        norm = (k1 * (1 - b + b * length / max(float(length.mean()), 1e-9))).astype(np.float32)
        # In place, term frequency -> weight: the postings are the build's whole memory.
        weight /= weight + norm[row]
        weight *= idf[column]
        # Term-major; rows are already ascending, and a stable sort keeps them so within a term.
        order = np.argsort(column, kind="stable")
        del column
        indptr = np.concatenate([[0], np.cumsum(document_frequency)]).astype(np.int64)
        return cls(np.array(ids, np.int64), vocabulary, weight[order], row[order], indptr)

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the `k` best entries that share at least one term with `query`."""
        return self.top(self.scores(dict.fromkeys(terms(query), 1.0)), k)

    def scores(self, weights: Mapping[str, float]) -> np.ndarray:
        """Every entry's score for terms of given weights (1 each for a query as `search` takes it; an
        expanded query's, indexer/expansion.py): the weighted sum of its terms' BM25 weights, by position."""
        scores = np.zeros(len(self.ids), np.float32)
        for term, weight in weights.items():
            column = self.vocabulary.get(term)
            if column is None or weight <= 0:
                continue
            start, end = self.indptr[column], self.indptr[column + 1]
            # an entry appears once per column; a weight of 1 adds the column exactly, as unweighted
            scores[self.rows[start:end]] += self.data[start:end] if weight == 1.0 else weight * self.data[start:end]
        return scores

    def top(self, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the `k` best entries by `scores` (what `scores` gives), only those above 0: sharing a term."""
        matched = np.flatnonzero(scores)
        k = min(k, len(matched))
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        top = matched[np.argpartition(-scores[matched], k - 1)[:k]] if k < len(matched) else matched
        top = top[np.argsort(-scores[top], kind="stable")]
        return self.ids[top], scores[top]

    def scores_of(self, query: str, ids: np.ndarray) -> np.ndarray:
        """The score for `query` of each of `ids` (0 for one not indexed): a few entries scored without
        touching the others, by binary search, since `ids` ascend (the store streams them in id order)
        and so do the positions within each term's postings."""
        ids = np.asarray(ids, np.int64)
        scores = np.zeros(len(ids), np.float32)
        if not len(self.ids) or not len(ids):
            return scores
        positions = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        indexed = self.ids[positions] == ids
        for column in self._columns(query):
            rows = self.rows[self.indptr[column]:self.indptr[column + 1]]
            at = np.minimum(np.searchsorted(rows, positions), len(rows) - 1)
            found = indexed & (rows[at] == positions)
            scores[found] += self.data[self.indptr[column] + at[found]]
        return scores

    def _columns(self, query: str) -> list[int]:
        return [self.vocabulary[t] for t in dict.fromkeys(terms(query)) if t in self.vocabulary]

    def save(self, folder: Path, nested: Mapping[str, LexicalIndex] | None = None) -> dict[str, FileRecord]:
        """Write to `folder`, which must not exist yet, and each of the `nested` indexes to the subfolder
        of its name: each version gets a folder of its own, written whole and durably before it takes
        its name (`atomic_folder`), so a reader never sees a half-written one. Returns the size and
        checksum of each file, by its path in `folder`, taken before the rename."""
        records: dict[str, FileRecord] = {}

        def write(temp: Path) -> None:
            for name, index in {"": self, **(nested or {})}.items():
                (temp / name).mkdir(exist_ok=True)
                for array in ARRAYS:
                    np.save(temp / name / f"{array}.npy", getattr(index, array))
                (temp / name / VOCABULARY_FILE).write_text(json.dumps(index.vocabulary, ensure_ascii=False), encoding="utf-8")
                records.update({f"{name}/{file}".lstrip("/"): record(temp / name / file) for file in FILES})

        atomic_folder(folder, write)
        return records

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> "LexicalIndex":
        """Raises ValueError for files that are not what `save` writes (a missing one: OSError). Only
        the shapes are checked, not every row number: the version file's checksums guard the bytes."""
        try:
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False) for name in ARRAYS}
            vocabulary = json.loads((folder / VOCABULARY_FILE).read_text(encoding="utf-8"))
        except (EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{folder}: not a readable BM25 index ({error.__class__.__name__}: {error})") from None
        if not isinstance(vocabulary, dict) or any(array.ndim != 1 for array in arrays.values()) \
                or len(arrays["data"]) != len(arrays["rows"]) or len(arrays["indptr"]) != len(vocabulary) + 1:
            raise ValueError(f"{folder}: the BM25 arrays do not fit together")
        return cls(vocabulary=vocabulary, **arrays)

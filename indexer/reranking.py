"""Reranking: a cross-encoder (encoder/cross_encoder.py) rescores the top N documents of any mode.

A retriever ranks by vectors made apart (dense) or by shared words (BM25); the cross-encoder reads the
query and each candidate passage together, which ranks better and costs one forward pass per pair, so
it sees only the top `depth` documents of the mode's ranking, after the filters, each by the passage
that stands for it, titled as the dense index encodes it (`passage_text`; a document without a title
by its opening words: `reranked_text`). All of them are scored in
one `CrossEncoder.score` call, batched and cut to the model's length. The reranked documents come
first, in the reranker's order and with its scores; the rest keep the mode's order and scores after
them, so a page past the depth is the mode's ranking, and a page inside it the reranked one. A reranker
whose folder names a `first_stage_weight` (chosen on dev queries when it was trained) keeps that much of
the mode's order: its scores are then the blend (`encoder.cross_encoder.blended`), each side scaled to
[0, 1] over the reranked head.

The model is loaded once per process, on the first reranked search (a server that never reranks
never pays for it), at the precision the server names (`RERANK_PRECISION`). Its default, "auto", is the
fastest measured on this kind of CPU (`encoder.reranking_precision`): bf16 autocast where the CPU has AMX,
int8 linear layers elsewhere. With 128 tokens a pair, that is what makes depth 30 fit the latency bar on
a 2-core machine (docs/benchmarks.md, "Reranking").
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from encoder import CrossEncoder, passage_text, reranking_precision
from encoder.precision import INT8
from encoder.checkpoint import CONFIG_FILE, CheckpointError
from encoder.cross_encoder import TASK, blended, first_stage_weight
from encoder.paths import REPOSITORY

from .ranking import Ranking
from .store import Store
from .store_reads import Passage

DEFAULT_RERANKER = REPOSITORY / "models" / "reranker"  # the shipped reranker, once trained (`manage.py train-reranker`)
DEFAULT_RERANK_DEPTH = 30  # documents rescored: docs/benchmarks.md, "Reranking"
MAX_RERANK_DEPTH = 100  # what one request may ask for: the cost grows with it, one pair per document
# What a server may score its reranked candidates in: "auto" (the fastest on this CPU: `reranking_precision`),
# int8 linear layers, bf16 autocast, or float32.
RERANK_PRECISIONS = ("auto", INT8, "bfloat16", "float32")
SCORE_KIND = "reranker score"  # what a reranked hit's score is (a logit margin: only differences mean anything)
# A document without a title is titled, for the reranker, by this many of its opening words when the
# passage read is not its start: on NFCorpus dev (title-less abstracts) that lifted reranking the top 30
# by 2.7 points alone and 0.7 blended (docs/benchmarks.md, "a CPU reranker blended with its first stage").
OPENING_WORDS = 16


def reranked_text(title: str, passage: str, opening: str = "") -> str:
    """What the reranker reads for a document: the passage search shows, titled as the dense index
    encodes it (`passage_text`), or, where the document has no title, by the first OPENING_WORDS
    words of `opening` (its first passage, given where the one shown is not it), which name what a
    title-less document is about when the passage read starts further in."""
    return passage_text(title or " ".join(opening.split()[:OPENING_WORDS]), passage)


def openings(store: Store, passages: Sequence[Passage]) -> dict[int, str]:
    """The first passage's text of each document among `passages` that has no title and whose passage
    is not its start (one store call, for those documents only): what `reranked_text` needs."""
    untitled = {p.document for p in passages if not p.title and p.span[0] > 0}
    return store.first_passages(sorted(untitled)) if untitled else {}


def search_label(mode: str, depth: int) -> str:
    """How figures name what was measured: `hybrid`, or `hybrid + rerank@30` for the same searches
    with their top 30 documents reranked."""
    return f"{mode} + rerank@{depth}" if depth else mode


def checked_depth(depth: int) -> int:
    """A depth given on the command line: 0 (no reranking) up to MAX_RERANK_DEPTH, else a ValueError saying so."""
    if not 0 <= depth <= MAX_RERANK_DEPTH:
        raise ValueError(f"--rerank takes a number of documents from 1 to {MAX_RERANK_DEPTH} (0: none), not {depth}")
    return depth


class RerankUnavailable(ValueError):
    """A reranked search asked of a server that has no reranker; the message says how to give it one."""


class Reranker:
    """The reranker folder a server was given, loaded on first use; safe to share between threads."""

    def __init__(self, folder: str | Path | None, max_length: int | None = None, precision: str = "auto") -> None:
        if precision not in RERANK_PRECISIONS:
            raise ValueError(f"a reranker's precision is one of {', '.join(RERANK_PRECISIONS)}, not {precision!r}")
        self.folder = Path(folder) if folder else None
        self.max_length = max_length or None  # None: the model's own
        self.precision = reranking_precision() if precision == "auto" else precision
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    @property
    def problem(self) -> str | None:
        """Why this server cannot rerank, in words for the person who asked; None when it can."""
        if self.folder is None:
            return "reranking is not available on this server: no reranker is configured (set SEARCHAPP_RERANKER to a reranker folder)"
        if self._model is not None:
            return None
        if not (self.folder / CONFIG_FILE).is_file():
            return (f"reranking is not available on this server: no reranker at {self.folder} (train one with "
                    f"`manage.py train-reranker`, or set SEARCHAPP_RERANKER to a reranker folder)")
        try:  # an encoder's folder, say: refused here, with the setting named, not by a failing search
            settings = json.loads((self.folder / CONFIG_FILE).read_text(encoding="utf-8"))
            task = settings.get("task")
        except (OSError, ValueError, AttributeError):
            settings, task = {}, None
        if task != TASK:
            return f"reranking is not available on this server: {self.folder} is not a reranker (SEARCHAPP_RERANKER names it)"
        try:
            first_stage_weight(settings, self.folder)
        except CheckpointError as exc:
            return f"reranking is not available on this server: {exc}"
        return None

    @property
    def model(self) -> CrossEncoder:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    if problem := self.problem:
                        raise RerankUnavailable(problem)
                    self._model = CrossEncoder.load(self.folder, precision=self.precision, max_length=self.max_length)
        return self._model

    def rerank(self, query: str, ranked: Ranking, passages: dict[int, Passage], depth: int, store: Store) -> tuple[Ranking, int]:
        """`ranked` (chunks standing for documents, best first) with its first `depth` rescored and
        reordered by the reranker, and how many were: `passages` must hold those chunks' (one missing
        was deleted since the search began: it is dropped, as a page would drop it). `store` gives
        title-less documents their opening words (`reranked_text`)."""
        head = [chunk for chunk in ranked.ids[:depth].tolist() if chunk in passages]
        model = self.model
        opening = openings(store, [passages[c] for c in head])
        texts = [reranked_text(passages[c].title, passages[c].text, opening.get(passages[c].document, "")) for c in head]
        scores = blended(model.score(query, texts), model.first_stage_weight)
        order = np.argsort(-scores, kind="stable")  # ties keep the mode's order
        rest = ranked[depth:]
        reordered = Ranking(np.concatenate([np.array(head, dtype=np.int64)[order], rest.ids]),
                            np.concatenate([scores[order].astype(np.float64), rest.scores]))
        return reordered, len(head)

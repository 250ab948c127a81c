"""How a hybrid search combines its dense and BM25 lists: the one definition that both the search service
(indexer/retrieval.py) and the training's model selection (encoder/training/selection.py) use.

It lives beside the model rather than in the indexer because the selection runs where the indexer cannot
(the GPU machine has no faiss, flask or sqlalchemy), and a model chosen for its hybrid figure must be
judged by the fusion the product applies, not by a copy of it."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

COSINE_FLOOR = -1.0  # the lowest score a dense list can hold
BM25_FLOOR = 0.0  # the lowest a BM25 list can hold


def convex_scores(lists: Sequence[tuple[Sequence[Hashable], Sequence[float]]], weights: Sequence[float],
                  floors: Sequence[float]) -> tuple[list[Hashable], np.ndarray]:
    """A weighted sum of each (keys, scores) list's scores, each normalised to [0, 1] from the lowest score
    there can be (`floors`: -1 for a cosine, 0 for BM25) to the list's top score; a key a list lacks gets 0
    from it. Returns the keys best first with their fused scores; ties keep the order keys were first met.
    The top score does not depend on how deep the lists go, so a page of 10 and an evaluation at depth 100
    rank alike (a min-max over the candidates would not). Bruch et al. 2023 ("An analysis of fusion
    functions for hybrid retrieval") found this combination, with its weight tuned on a few labelled
    queries, ahead of reciprocal ranks, which discard how far apart the scores are."""
    fused: dict[Hashable, float] = {}
    for weight, floor, (keys, scores) in zip(weights, floors, lists, strict=True):
        if not len(keys):
            continue
        span = float(scores[0]) - floor
        for key, score in zip(keys, np.asarray(scores, dtype=np.float64).tolist()):
            fused[key] = fused.get(key, 0.0) + weight * ((score - floor) / span if span > 0 else 1.0)
    order = sorted(fused, key=lambda key: -fused[key])  # stable
    return order, np.array([fused[key] for key in order])


def fused_rankings(dense: Mapping[str, tuple[Sequence[str], Sequence[float]]], lexical: Mapping[str, tuple[Sequence[str], Sequence[float]]],
                   dense_weight: float) -> dict[str, list[str]]:
    """Each query's dense and BM25 lists of (document ids, scores) fused as a hybrid search fuses them, the
    dense list weighing `dense_weight`; a query either side lacks gets the other side alone."""
    empty: tuple[list[str], list[float]] = ([], [])
    return {qid: convex_scores([dense.get(qid, empty), lexical.get(qid, empty)], (dense_weight, 1.0 - dense_weight),
                               (COSINE_FLOOR, BM25_FLOOR))[0]
            for qid in dense.keys() | lexical.keys()}

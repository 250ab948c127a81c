"""How much a reranker adds to a first-stage ranking, measured on a BEIR folder's judged queries.

A reranker only reorders the candidates a search hands it, so its figure is always "first stage, then
reranked top N" against "first stage alone". The first stage is fixed and written beside the folder
(`rerank_candidates.jsonl`, made on the CPU by `scripts/prepare_gpu_data.py` with our BM25), so that a
GPU run, which has no index, can choose between rerankers on dev queries inside the run. Only numpy
and the encoder: this runs on the GPU machine too.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ..cross_encoder import blended
from .evaluation import BeirSet, Rankings, ScoredRankings, jsonl_records, read_beir, retrieval_metrics

CANDIDATES_FILE = "rerank_candidates.jsonl"  # one line per query: {"query": id, "ranking": [document ids, best first]}
Passages = dict[str, dict[str, str]]  # query id -> document id -> the text a reranker reads for it


class PairScorer(Protocol):
    def score(self, query: str, passages: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


def write_candidates(rankings: Rankings | ScoredRankings, path: Path) -> None:
    """One line per query: {"query": id, "ranking": [document ids]}, with "scores" for a scored ranking
    (what a hybrid fusion needs of its BM25 list). A `.gz` path is written through gzip."""
    with (gzip.open(path, "wt", encoding="utf-8") if Path(path).suffix == ".gz" else Path(path).open("w", encoding="utf-8")) as out:
        for qid, ranking in rankings.items():
            record = {"query": qid, "ranking": ranking}
            if isinstance(ranking, tuple):
                record = {"query": qid, "ranking": ranking[0], "scores": [round(float(x), 4) for x in ranking[1]]}
            out.write(json.dumps(record) + "\n")


def read_scored_candidates(path: Path) -> ScoredRankings:
    """A candidates file's rankings with their scores (an empty list where the file holds none)."""
    rankings = {}
    for number, record in enumerate(jsonl_records(path), start=1):
        ranking, scores = (record.get("ranking"), record.get("scores", [])) if isinstance(record, dict) else (None, None)
        if not isinstance(ranking, list) or "query" not in record or not isinstance(scores, list) or len(scores) not in (0, len(ranking)):
            raise ValueError(f"{path}, line {number}: expected {{\"query\": id, \"ranking\": [document ids], \"scores\": [one per id] (optional)}}")
        rankings[str(record["query"])] = ([str(doc) for doc in ranking], [float(x) for x in scores])
    return rankings


def read_candidates(path: Path) -> Rankings:
    return {qid: ranking for qid, (ranking, _) in read_scored_candidates(path).items()}


def reranked(rankings: Rankings, scores: dict[str, list[float]], depth: int, first_stage_weight: float = 0.0) -> Rankings:
    """Each ranking with its top `depth` reordered by score (`blended` with the first stage's order by
    `first_stage_weight`; ties keep the first stage's order), the rest unchanged."""
    out = {}
    for qid, ranking in rankings.items():
        top = ranking[:depth]
        mixed = blended(np.array(scores[qid][:len(top)]), first_stage_weight).tolist()
        order = sorted(range(len(top)), key=lambda i: -mixed[i])
        out[qid] = [top[i] for i in order] + ranking[depth:]
    return out


def row_name(depth: int, first_stage_weight: float = 0.0) -> str:
    """A table row's name: `reranked top 30`, or `reranked top 30, first stage 0.3` for a blend."""
    return f"reranked top {depth}" + (f", first stage {first_stage_weight:g}" if first_stage_weight else "")


def score_candidates(scorer: PairScorer, queries: dict[str, str], rankings: Rankings, corpus: dict[str, tuple[str, str]],
                     depth: int, batch_size: int = 32, passages: Passages | None = None) -> tuple[dict[str, list[float]], float]:
    """Each query's top `depth` scores, and the mean milliseconds a query took to score. The text read
    for a document is `passages[query][document]` where given (what search shows for it: its best
    passage for that query, titled), else the document's title and text from its start (all a
    machine without an index has; the scorer cuts it to its length)."""
    scores, started = {}, time.perf_counter()
    for qid, ranking in rankings.items():
        shown = (passages or {}).get(qid, {})
        texts = [shown.get(doc) or " ".join(part for part in corpus[doc] if part) for doc in ranking[:depth]]
        scores[qid] = scorer.score(queries[qid], texts, batch_size=batch_size).tolist()
    return scores, 1000 * (time.perf_counter() - started) / max(len(rankings), 1)


def rerank_table(scorer: PairScorer, beir: BeirSet, rankings: Rankings, depths: Sequence[int], batch_size: int = 32,
                 first_stage_weights: Sequence[float] = (0.0,), passages: Passages | None = None) -> tuple[dict[str, dict[str, float]], float]:
    """Metrics (x100) of the first stage and of its top N reranked, for each N in `depths` and each
    blend in `first_stage_weights` (`row_name` names the rows), and the mean milliseconds scoring the
    deepest N took a query; the shallower depths reuse the deepest's scores (a pair's score does not
    depend on the others). `passages`: as `score_candidates` reads them."""
    judged = {qid: rankings.get(qid, []) for qid in beir.qrels}
    scores, ms = score_candidates(scorer, beir.queries, judged, beir.corpus, max(depths), batch_size, passages)
    table = {"first stage": retrieval_metrics(judged, beir.qrels)}
    for depth in sorted(depths):
        for weight in first_stage_weights:
            table[row_name(depth, weight)] = retrieval_metrics(reranked(judged, scores, depth, weight), beir.qrels)
    return table, ms


def best_first_stage_weight(table: dict[str, dict[str, float]], depth: int, first_stage_weights: Sequence[float],
                            metric: str = "ndcg@10") -> float:
    """The blend whose reranked top `depth` scores best in `table` (the smaller weight on a tie: the
    reranker's own order is what it was trained for)."""
    return max(sorted(first_stage_weights), key=lambda weight: (table[row_name(depth, weight)][metric], -weight))


def read_rerank_dev(folder: Path, split: str = "dev") -> tuple[BeirSet, Rankings]:
    """A BEIR folder's judged queries and the first-stage candidates written in it, read (and so checked)
    before anything is trained on them."""
    candidates = Path(folder) / CANDIDATES_FILE
    if not candidates.is_file():
        raise FileNotFoundError(f"{candidates} does not exist: scripts/prepare_gpu_data.py writes it beside the dev folder")
    return read_beir(folder, split), read_candidates(candidates)

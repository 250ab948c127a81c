"""Reranking a fixed first stage on a BEIR folder: the candidates file, the reordering, and the table."""

import math
import re
from collections.abc import Sequence

import numpy as np
import pytest

from encoder.training.rerank_evaluation import (
    CANDIDATES_FILE,
    best_first_stage_weight,
    read_candidates,
    read_scored_candidates,
    read_rerank_dev,
    rerank_table,
    reranked,
    write_candidates,
)
from samples import QUERIES, SENTENCES, write_beir

# The first stage ranks each query's relevant sentence (dN for qN) last of the eight.
WORST_FIRST = {q: [f"d{i}" for i in range(len(SENTENCES)) if i != int(q[1:])] + [f"d{q[1:]}"] for q in QUERIES}


class WordOverlap:
    """A scorer that counts the query's words found in the passage: enough to find the planted sentence."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def score(self, query: str, passages: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls.append((query, len(passages)))
        return np.array([len(set(query.lower().split()) & set(re.findall(r"\w+", p.lower()))) for p in passages], dtype=np.float32)


def test_reranking_reorders_only_the_top_depth_and_keeps_ties_in_first_stage_order():
    rankings = {"q": ["a", "b", "c", "d"]}
    assert reranked(rankings, {"q": [0.0, 2.0, 0.0]}, 3) == {"q": ["b", "a", "c", "d"]}
    assert reranked(rankings, {"q": [1.0, 2.0, 3.0, 4.0]}, 2) == {"q": ["b", "a", "c", "d"]}


def test_a_blend_keeps_some_of_the_first_stage_s_order():
    rankings = {"q": ["a", "b", "c", "d"]}
    scores = {"q": [0.0, 1.0, 0.9]}
    assert reranked(rankings, scores, 3) == {"q": ["b", "c", "a", "d"]}
    # a: 0.5 * 1 + 0.5 * 0 = 0.5; b: 0.5 * 0.5 + 0.5 * 1 = 0.75; c: 0.5 * 0 + 0.5 * 0.9 = 0.45
    assert reranked(rankings, scores, 3, first_stage_weight=0.5) == {"q": ["b", "a", "c", "d"]}
    assert reranked(rankings, scores, 3, first_stage_weight=1.0) == rankings


def test_the_table_has_a_row_per_depth_and_blend_and_the_best_blend_is_picked_from_it(tmp_path):
    folder = write_beir(tmp_path / "dev", split="dev")
    write_candidates(WORST_FIRST, folder / CANDIDATES_FILE)
    table, _ = rerank_table(WordOverlap(), *read_rerank_dev(folder, "dev"), depths=(4, 8), first_stage_weights=(0.0, 0.5, 1.0))
    assert set(table) == {"first stage"} | {f"reranked top {d}{blend}" for d in (4, 8) for blend in ("", ", first stage 0.5", ", first stage 1")}
    assert table["reranked top 8, first stage 1"] == table["first stage"]  # all weight on a first stage that ranks each answer last
    assert best_first_stage_weight(table, 8, (0.0, 0.5, 1.0)) == 0.0  # the word overlap finds every answer: keep none of that order
    tied = {"reranked top 8": {"ndcg@10": 50.0}, "reranked top 8, first stage 0.5": {"ndcg@10": 50.0}}
    assert best_first_stage_weight(tied, 8, (0.5, 0.0)) == 0.0  # a tie goes to the reranker's own order


def test_candidates_round_trip_and_a_bad_line_names_its_file_and_line(tmp_path):
    path = tmp_path / CANDIDATES_FILE
    write_candidates({"q1": ["d3", "d1"], "7": []}, path)
    assert read_candidates(path) == {"q1": ["d3", "d1"], "7": []}
    path.write_text('{"query": "q1", "ranking": ["d1"]}\n{"query": "q2"}\n')
    with pytest.raises(ValueError, match=rf"{CANDIDATES_FILE}, line 2"):
        read_candidates(path)


def test_scored_candidates_round_trip_through_gzip_and_a_score_short_of_its_ids_is_refused(tmp_path):
    path = tmp_path / "lists.jsonl.gz"
    write_candidates({"q1": (["d3", "d1"], [2.5, 1.25]), "q2": ([], [])}, path)
    assert read_scored_candidates(path) == {"q1": (["d3", "d1"], [2.5, 1.25]), "q2": ([], [])}
    assert read_candidates(path) == {"q1": ["d3", "d1"], "q2": []}
    path = tmp_path / "plain.jsonl"
    path.write_text('{"query": "q1", "ranking": ["d1", "d2"], "scores": [1.0]}\n')
    with pytest.raises(ValueError, match=r"plain.jsonl, line 1"):
        read_scored_candidates(path)


def test_the_table_gives_the_first_stage_and_each_depth_scoring_the_deepest_once(tmp_path):
    folder = write_beir(tmp_path / "dev", split="dev")
    write_candidates(WORST_FIRST, folder / CANDIDATES_FILE)
    scorer = WordOverlap()
    table, ms = rerank_table(scorer, *read_rerank_dev(folder, "dev"), depths=(4, 8))
    assert table["first stage"]["ndcg@10"] == pytest.approx(100 / math.log2(9))  # the relevant one at rank 8
    assert table["reranked top 4"]["ndcg@10"] == pytest.approx(100 / math.log2(9))  # it is not among the top 4
    assert table["reranked top 8"]["ndcg@10"] == pytest.approx(100.0) and table["reranked top 8"]["mrr@10"] == pytest.approx(100.0)
    assert sorted(scorer.calls) == sorted((text, 8) for text in QUERIES.values()) and ms >= 0


def test_a_folder_without_candidates_says_what_makes_them(tmp_path):
    folder = write_beir(tmp_path / "dev", split="dev")
    with pytest.raises(FileNotFoundError, match="prepare_gpu_data"):
        read_rerank_dev(folder)


def test_the_text_read_for_a_document_can_be_the_passage_search_showed_for_that_query(tmp_path):
    folder = write_beir(tmp_path / "dev", split="dev")
    write_candidates(WORST_FIRST, folder / CANDIDATES_FILE)
    beir, rankings = read_rerank_dev(folder, "dev")
    # Each query's relevant document shown by a passage that shares none of its words: the word overlap cannot find it.
    shown = {q: {f"d{q[1:]}": "zzz"} for q in QUERIES}
    scorer = WordOverlap()
    table, _ = rerank_table(scorer, beir, rankings, depths=(8,), passages=shown)
    assert table["reranked top 8"]["ndcg@10"] < 100.0
    assert rerank_table(WordOverlap(), beir, rankings, depths=(8,))[0]["reranked top 8"]["ndcg@10"] == pytest.approx(100.0)

"""The hybrid fusion the search service and the training's selection share (encoder/fusion.py)."""

import pytest

from encoder.fusion import BM25_FLOOR, COSINE_FLOOR, convex_scores, fused_rankings


def test_scores_are_normalised_from_their_floor_to_each_lists_top_then_weighed():
    keys, scores = convex_scores([(["a", "b"], [0.9, 0.1]), (["b", "c"], [10.0, 8.0])], (0.5, 0.5), (COSINE_FLOOR, BM25_FLOOR))
    # b: 0.5 * 1.1/1.9 + 0.5 * 1 = 0.789; a: 0.5 * 1 = 0.5; c: 0.5 * 0.8 = 0.4
    assert keys == ["b", "a", "c"] and scores.tolist() == pytest.approx([0.5 * 1.1 / 1.9 + 0.5, 0.5, 0.4])
    assert convex_scores([([], []), (["x"], [0.0])], (0.5, 0.5), (COSINE_FLOOR, BM25_FLOOR))[1].tolist() == [0.5]  # a top at the floor


def test_each_query_is_fused_by_the_dense_share_and_a_side_missing_leaves_the_other():
    dense = {"q": (["a", "b"], [0.9, 0.1])}
    lexical = {"q": (["b", "c"], [10.0, 8.0]), "only-bm25": (["c"], [1.0])}
    assert fused_rankings(dense, lexical, 0.0)["q"][:2] == ["b", "c"] and fused_rankings(dense, lexical, 1.0)["q"][0] == "a"
    assert fused_rankings(dense, lexical, 0.5) == {"q": ["b", "a", "c"], "only-bm25": ["c"]}

"""Retrievers: each answers with documents best first within its k chunks; the hybrid fuses the grouped
lists by their normalised scores (or by reciprocal rank, when told); the mode mapping is the one place a mode is added.
BM25 over passages unless a test says otherwise: over whole documents, each is shown by its best passage."""

from __future__ import annotations

import numpy as np
import pytest

from encoder import CheckpointError
from indexer.ranking import DocumentScope, Filters, Ranking
from indexer.retrieval import (BM25_UNITS, DEFAULT_BM25_UNIT, DENSE_WEIGHT_KEY, FALLBACK_DENSE_WEIGHT, MODES, RETRIEVERS, RRF_K, SCORE_KINDS, DenseRetriever,
                               HybridRetriever, LexicalRetriever, convex_fusion, reciprocal_rank_fusion)
from indexer.search import SearchService
from indexer.store_reads import ChunkOwner

# A tiny index by hand: chunk id -> (document, collection). Documents 1 and 3 have several chunks.
OWNERS = {11: (1, "a"), 12: (1, "a"), 13: (1, "a"), 21: (2, "b"), 22: (2, "b"), 31: (3, "a"), 32: (3, "a"), 41: (4, "b")}
DENSE = [(11, 0.9), (12, 0.8), (21, 0.7), (31, 0.6), (41, 0.1)]  # chunk, cosine; best first
LEXICAL = [(32, 7.0), (22, 5.0), (13, 2.0)]  # chunk, BM25; best first
WHOLE = [(3, 9.0), (2, 6.0), (9, 4.0), (4, 1.0)]  # document, BM25 of its whole text; 9 was deleted since the index was saved


class FakeStore:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def chunk_owners(self, chunk_ids, with_metadata=False):
        self.calls.append(sorted(chunk_ids))
        return {c: ChunkOwner(c, *OWNERS[c], {"even": str(OWNERS[c][0] % 2 == 0).lower()} if with_metadata else None)
                for c in chunk_ids if c in OWNERS}

    def indexed_texts(self, keys, documents=False, max_chars=None):  # feedback for an expanded query: none here
        return {}

    def document_chunks(self, documents):
        self.calls.append(sorted(documents))
        return sorted((OWNERS[c][0], c % 10, c) for c in OWNERS if OWNERS[c][0] in set(documents.tolist()))


class FakeEncoder:
    def __init__(self, settings: dict | None = None) -> None:
        self.encoded: list[str] = []
        self.settings = settings or {}  # a checkpoint's config.json beyond the network (Encoder.settings)

    def encode(self, texts):
        self.encoded += texts
        return np.ones((1, 2), np.float32)


class FakeVectors:
    def search(self, vector, k):  # FAISS's shape: (1, k) scores and ids, padded with -1 past the end
        rows = (DENSE + [(-1, -np.inf)] * k)[:k]
        return np.array([[s for _, s in rows]], np.float32), np.array([[c for c, _ in rows]], np.int64)


class FakeLexical:
    def __init__(self, ranked=LEXICAL) -> None:
        self.ranked = ranked

    def search(self, query, k):
        return np.array([c for c, _ in self.ranked[:k]], np.int64), np.array([s for _, s in self.ranked[:k]], np.float32)

    def scores_of(self, query, ids):
        return np.array([dict(self.ranked).get(i, 0.0) for i in ids.tolist()], np.float32)

    def scores(self, weights):  # these tests' queries are no words the analyzer keeps: `top` ranks as `search`
        return np.zeros(1, np.float32)

    def top(self, scores, k):
        return self.search("", k)


class FakeIndex:
    def __init__(self, settings: dict | None = None) -> None:
        self.encoder, self.vectors, self.lexical, self.store = FakeEncoder(settings), FakeVectors(), FakeLexical(), FakeStore()
        self.document_lexical = FakeLexical(WHOLE)
        self.model = "models/fake"

    def query_encoder(self, vectors: FakeVectors) -> FakeEncoder:
        return self.encoder


def built(mode: str, filters: Filters = Filters(), bm25: str = "passage", settings: dict | None = None):
    index = FakeIndex(settings)
    return RETRIEVERS[mode](index, DocumentScope(index.store, filters), bm25=bm25), index


def test_the_mapping_names_every_mode_and_what_its_scores_are():
    assert MODES == tuple(RETRIEVERS) == ("dense", "lexical", "hybrid")
    assert SCORE_KINDS == {"dense": "cosine similarity", "lexical": "BM25", "hybrid": "weighted sum of normalised scores"}
    for mode in MODES:
        retriever, _ = built(mode)
        assert isinstance(retriever.search("q", 10), Ranking)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_each_retriever_ranks_documents_best_first_within_k_chunks(mode, k):
    ranking = built(mode)[0].search("q", k)
    documents = [OWNERS[c][0] for c in ranking.ids.tolist()]
    lists = 2 if mode == "hybrid" else 1  # a fusion takes the top k chunks of each of its lists
    assert len(documents) == len(set(documents)) <= lists * k  # each document once, never more than k chunks a list gave
    assert list(ranking.scores) == sorted(ranking.scores, reverse=True)
    assert ranking.ids.dtype == np.int64 and ranking.scores.dtype == np.float64


def test_dense_and_lexical_keep_each_documents_best_chunk_and_its_score():
    dense = built("dense")[0].search("q", 10)
    assert dense.ids.tolist() == [11, 21, 31, 41] and dense.scores.tolist() == pytest.approx([0.9, 0.7, 0.6, 0.1])
    assert built("dense")[0].search("q", 2).ids.tolist() == [11]  # the top 2 chunks are both document 1's
    lexical = built("lexical")[0].search("q", 10)
    assert lexical.ids.tolist() == [32, 22, 13] and lexical.scores.tolist() == [7.0, 5.0, 2.0]


def rrf_hybrid(filters: Filters = Filters()) -> HybridRetriever:
    index = FakeIndex()
    return HybridRetriever(index, DocumentScope(index.store, filters), "passage", fusion=reciprocal_rank_fusion)


@pytest.mark.parametrize("settings, share", [({}, FALLBACK_DENSE_WEIGHT), ({DENSE_WEIGHT_KEY: 0.6}, 0.6), ({DENSE_WEIGHT_KEY: 1}, 1.0)])
def test_hybrid_weighs_the_grouped_lists_normalised_scores_by_the_models_dense_share(settings, share):
    # Grouped by hand: dense documents 1 (chunk 11, 0.9), 2 (21, 0.7), 3 (31, 0.6), 4 (41, 0.1), cosines
    # normalised from -1 to the top 0.9; lexical 3 (32, 7.0), 2 (22, 5.0), 1 (13, 2.0), from 0 to 7.
    fused = built("hybrid", settings=settings)[0].search("q", 10)
    dense = {1: 1.9 / 1.9, 2: 1.7 / 1.9, 3: 1.6 / 1.9, 4: 1.1 / 1.9}
    lexical = {1: 2 / 7, 2: 5 / 7, 3: 7 / 7, 4: 0.0}
    expected = {d: share * dense[d] + (1 - share) * lexical[d] for d in dense}
    order = sorted(expected, key=lambda d: -expected[d])
    assert [OWNERS[c][0] for c in fused.ids.tolist()] == order
    assert fused.scores.tolist() == pytest.approx([expected[d] for d in order])
    assert fused.ids.tolist() == [{1: 11, 2: 21, 3: 31, 4: 41}[d] for d in order]  # dense's passage wherever dense has it


def test_the_dense_share_orders_the_hybrid_list():
    # At the fallback share BM25 leads (document 3 first); a model trusting its cosines more puts its own top (1) first.
    assert [OWNERS[c][0] for c in built("hybrid")[0].search("q", 10).ids.tolist()][0] == 3
    assert [OWNERS[c][0] for c in built("hybrid", settings={DENSE_WEIGHT_KEY: 0.9})[0].search("q", 10).ids.tolist()][0] == 1


@pytest.mark.parametrize("value", [1.5, -0.1, "0.3", True, None])
def test_a_dense_share_that_is_not_a_number_from_0_to_1_is_refused_naming_the_model(value):
    with pytest.raises(CheckpointError, match=f"models/fake: config.json's {DENSE_WEIGHT_KEY} must be a number from 0 to 1"):
        built("hybrid", settings={DENSE_WEIGHT_KEY: value})


def test_hybrid_by_reciprocal_rank_fusion_of_the_grouped_lists():
    fused = rrf_hybrid().search("q", 10)
    expected = {1: 1 / 61 + 1 / 63, 2: 1 / 62 + 1 / 62, 3: 1 / 63 + 1 / 61, 4: 1 / 64}
    # Documents 1 and 3 tie; the tie keeps the order the lists met them in (dense first).
    assert [OWNERS[c][0] for c in fused.ids.tolist()] == [1, 3, 2, 4]
    assert fused.scores.tolist() == [expected[1], expected[3], expected[2], expected[4]]
    assert fused.ids.tolist() == [11, 31, 21, 41]  # the passage shown is dense's wherever dense has the document


def test_hybrid_filters_each_list_before_fusing_and_shows_the_lexical_passage_dense_lacks():
    # Only documents in collection "a" (1 and 3), and dense cut to its top 2 chunks (document 1's).
    fused = rrf_hybrid(Filters(collection="a")).search("q", 2)
    # Dense: 1 (chunk 11). Lexical top 2: 3 (32), then 2 (22), filtered out, so it takes no rank.
    assert fused.ids.tolist() == [11, 32] and fused.scores.tolist() == [1 / (RRF_K + 1)] * 2


def test_hybrid_asks_the_store_once_per_search_and_encodes_the_query_once_per_retriever():
    retriever, index = built("hybrid", Filters(metadata={"even": ("false",)}))
    retriever.search("q", 3)
    assert index.store.calls == [[11, 12, 13, 21, 22, 32]]  # both lists' chunks in one call
    retriever.search("q", 10)  # a wider round asks only about the chunks not seen yet
    assert index.store.calls[1:] == [[31, 41]] and index.encoder.encoded == ["q"]


def test_a_lexical_search_encodes_nothing():
    retriever, index = built("lexical")
    retriever.search("q", 10)
    assert index.encoder.encoded == []


def test_reciprocal_rank_fusion_sums_reciprocal_ranks_and_keeps_first_met_order_on_ties():
    fused = reciprocal_rank_fusion([Ranking([5, 6], [0.9, 0.1]), Ranking([6, 7, 5], [3.0, 2.0, 1.0])], k=10)
    assert fused.ids.tolist() == [6, 5, 7]
    assert fused.scores.tolist() == [1 / 12 + 1 / 11, 1 / 11 + 1 / 13, 1 / 12]
    assert len(reciprocal_rank_fusion([])) == 0


def test_convex_fusion_weighs_scores_normalised_from_the_floor_to_each_top():
    dense, lexical = Ranking([5, 6], [0.6, 0.2]), Ranking([6, 7], [8.0, 2.0])  # cosines from -1; BM25 from 0
    fused = convex_fusion((0.25, 0.75), (-1.0, 0.0))([dense, lexical])
    expected = {5: 0.25 * 1.0, 6: 0.25 * (1.2 / 1.6) + 0.75 * 1.0, 7: 0.75 * (2.0 / 8.0)}
    assert fused.ids.tolist() == [6, 5, 7]
    assert fused.scores.tolist() == pytest.approx([expected[i] for i in (6, 5, 7)])
    # Only the top score scales a list, so a deeper list changes no score already there.
    deeper = convex_fusion((0.25, 0.75), (-1.0, 0.0))([Ranking([5, 6, 8], [0.6, 0.2, -0.5]), lexical])
    assert deeper.scores[:3].tolist() == pytest.approx(fused.scores.tolist())
    # The weights decide: all on BM25, the dense-only document falls to the end.
    assert convex_fusion((0.0, 1.0), (-1.0, 0.0))([dense, lexical]).ids.tolist() == [6, 7, 5]
    assert len(convex_fusion((0.5, 0.5), (-1.0, 0.0))([Ranking([], []), Ranking([], [])])) == 0


def test_the_hybrid_takes_another_fusion():
    def last_list_wins(rankings):
        return rankings[-1]

    index = FakeIndex()
    hybrid = HybridRetriever(index, DocumentScope(index.store, Filters()), "passage", fusion=last_list_wins)
    assert hybrid.search("q", 10).ids.tolist() == [31, 21, 11]  # lexical's order, dense's passages


class ReversedDense(DenseRetriever):
    """A mode for the test: dense's documents, worst first."""

    score_kind = "negated cosine"

    def search(self, query: str, k: int) -> Ranking:
        ranking = super().search(query, k)
        return Ranking(ranking.ids[::-1], -ranking.scores[::-1])


def test_a_mode_registered_in_the_mapping_is_searchable_with_no_other_change(instance, database_url, monkeypatch):
    monkeypatch.setitem(RETRIEVERS, "reversed", ReversedDense)
    service = SearchService.open(instance, database_url)
    try:
        dense = service.search("the river", mode="dense", k=50)
        backwards = service.search("the river", mode="reversed", k=50)
        assert backwards.mode == "reversed" and backwards.total == dense.total
        assert [h.key for h in backwards.hits] == [h.key for h in reversed(dense.hits)]
        assert [h.score for h in backwards.hits] == [-h.score for h in reversed(dense.hits)]
    finally:
        service.index.close()


def test_the_service_refuses_a_mode_not_in_the_mapping():
    with pytest.raises(ValueError, match=r"unknown mode 'fuzzy'; expected one of dense, lexical, hybrid$"):
        SearchService(FakeIndex()).search("q", mode="fuzzy")


def test_search_vector_ranks_documents_near_a_vector_as_dense_ranks_a_query():
    index = FakeIndex()
    dense = DenseRetriever(index, DocumentScope(index.store, Filters(collection="b")))
    assert dense.search_vector(np.ones((1, 2), np.float32), 10).ids.tolist() == [21, 41] and index.encoder.encoded == []
    assert LexicalRetriever(index, DocumentScope(index.store, Filters()), "passage").chunks("q", 2).ids.tolist() == [32, 22]


def test_whole_document_bm25_ranks_documents_each_shown_by_its_best_passage_or_its_first():
    """Document 3's best passage for the query is 32, document 2's 22; no passage of document 4 shares
    a term, so its first (41) stands for it; document 9 is gone from the store."""
    assert DEFAULT_BM25_UNIT in BM25_UNITS == ("document", "passage")
    retriever, index = built("lexical", bm25="document")
    ranking = retriever.search("q", 10)
    assert ranking.ids.tolist() == [32, 22, 41] and ranking.scores.tolist() == [9.0, 6.0, 1.0]
    assert index.store.calls[0] == [2, 3, 4, 9]  # only the candidates' passages are looked up
    assert built("lexical", bm25="document")[0].search("q", 2).ids.tolist() == [32, 22]  # k counts documents
    assert built("lexical", Filters(collection="b"), bm25="document")[0].search("q", 10).ids.tolist() == [22, 41]
    assert built("lexical", Filters(metadata={"even": ("false",)}), bm25="document")[0].search("q", 10).ids.tolist() == [32]


def test_a_hybrid_over_whole_documents_fuses_them_with_dense():
    fused = built("hybrid", bm25="document")[0].search("q", 10)
    dense = {1: 1.9 / 1.9, 2: 1.7 / 1.9, 3: 1.6 / 1.9, 4: 1.1 / 1.9}
    lexical = {1: 0.0, 2: 6 / 9, 3: 9 / 9, 4: 1 / 9}
    expected = {d: FALLBACK_DENSE_WEIGHT * dense[d] + (1 - FALLBACK_DENSE_WEIGHT) * lexical[d] for d in dense}
    order = sorted(expected, key=lambda d: -expected[d])
    assert [OWNERS[c][0] for c in fused.ids.tolist()] == order
    assert fused.scores.tolist() == pytest.approx([expected[d] for d in order])


def test_an_unknown_bm25_unit_is_refused_in_every_mode():
    for mode in MODES:
        with pytest.raises(ValueError, match=r"unknown BM25 unit 'words'; expected one of document, passage"):
            built(mode, bm25="words")

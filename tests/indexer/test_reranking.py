"""Reranking in the search service (indexer/reranking.py): the top N of any mode rescored by a tiny
cross-encoder, whose order each test works out by scoring the shown passages itself."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

from encoder import CrossEncoder, reranking_precision
from encoder.checkpoint import save_settings
from encoder.cross_encoder import FIRST_STAGE_WEIGHT_KEY, blended
from indexer import quality_store
from encoder import passage_text
from indexer.ingest import IndexConfig, index_paths, index_records
from indexer.quality import add_labelled, latest_runs, measure
from indexer.ranking import Filters
from indexer.readers import Record
from indexer.reranking import OPENING_WORDS, Reranker, RerankUnavailable, checked_depth, reranked_text, search_label
from indexer.schema import SCHEMA_VERSION
from indexer.search import SearchService
from indexer.search_index import open_for_writing
from indexer.store import open_store
from samples import SENTENCES, write_beir

QUERY = "the cat slept by the river"


@pytest.fixture
def service(instance, database_url, tiny_reranker):
    service = SearchService.open(instance, database_url, reranker=Reranker(tiny_reranker))
    yield service
    service.index.close()


def direct_scores(service: SearchService, folder, hits) -> np.ndarray:
    """The reranker's score of each hit's shown passage, titled, computed here in one call."""
    texts = []
    for hit in hits:
        document = service.document(hit.id, hit.collection)
        texts.append(passage_text(hit.title, document.text[hit.passage[0]:hit.passage[1]]))
    return CrossEncoder.load(folder, precision=reranking_precision()).score(QUERY, texts)  # as the service runs it


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_the_top_n_are_reordered_by_the_reranker_and_the_rest_keep_the_mode_s_order(service, tiny_reranker, mode):
    plain = service.search(QUERY, mode=mode, k=20)
    depth = min(5, len(plain.hits) - 1)
    reranked = service.search(QUERY, mode=mode, k=20, rerank=depth)
    assert plain.rerank_depth == 0 and reranked.rerank_depth == depth and reranked.total == plain.total
    head, plain_head = reranked.hits[:depth], plain.hits[:depth]
    assert {h.key for h in head} == {h.key for h in plain_head}  # the same documents, by the same passages
    expected = dict(zip([h.key for h in plain_head], direct_scores(service, tiny_reranker, plain_head).tolist()))
    assert [h.score for h in head] == pytest.approx([expected[h.key] for h in head], abs=1e-4)
    assert [h.score for h in head] == sorted((h.score for h in head), reverse=True)
    assert [(h.key, h.score) for h in reranked.hits[depth:]] == [(h.key, h.score) for h in plain.hits[depth:]]
    assert [h.reranked for h in reranked.hits] == [True] * depth + [False] * (len(reranked.hits) - depth)
    body = reranked.as_json()
    assert body["reranked"] is True and body["rerank_depth"] == depth and body["results"][0]["reranked"] is True
    assert plain.as_json()["reranked"] is False


def test_a_reranker_trained_with_a_blend_keeps_that_much_of_the_mode_s_order(instance, database_url, tiny_reranker):
    save_settings(tiny_reranker, {FIRST_STAGE_WEIGHT_KEY: 0.6})
    service = SearchService.open(instance, database_url, reranker=Reranker(tiny_reranker))
    try:
        plain = service.search(QUERY, mode="hybrid", k=8)
        reranked = service.search(QUERY, mode="hybrid", k=8, rerank=8)
        expected = dict(zip([h.key for h in plain.hits], blended(direct_scores(service, tiny_reranker, plain.hits), 0.6).tolist()))
        assert [h.score for h in reranked.hits] == pytest.approx([expected[h.key] for h in reranked.hits], abs=1e-4)
        assert [h.score for h in reranked.hits] == sorted((h.score for h in reranked.hits), reverse=True)
        assert reranked.relevance(reranked.hits[0]) == 1.0
        assert reranked.relevance(reranked.hits[1]) == pytest.approx(reranked.hits[1].score / reranked.hits[0].score)
        assert reranked.as_json()["rerank_first_stage_weight"] == 0.6 and "rerank_first_stage_weight" not in plain.as_json()
    finally:
        service.index.close()


def test_the_planted_order_differs_from_the_mode_s(service):
    """The comparisons above could not fail if the reranker kept the mode's order; here it does not."""
    plain = service.search(QUERY, mode="dense", k=8)
    reranked = service.search(QUERY, mode="dense", k=8, rerank=8)
    assert [h.key for h in reranked.hits] != [h.key for h in plain.hits]


def test_pages_inside_and_past_the_depth_are_one_ranking(service):
    whole = [h.key for h in service.search(QUERY, mode="hybrid", k=9, rerank=6).hits]
    pages = [h.key for offset in (0, 3, 6) for h in service.search(QUERY, mode="hybrid", k=3, offset=offset, rerank=6).hits]
    assert pages == whole and len(whole) == 9
    second = service.search(QUERY, mode="hybrid", k=3, offset=3, rerank=6)
    assert all(h.reranked for h in second.hits) and second.rerank_depth == 6
    third = service.search(QUERY, mode="hybrid", k=3, offset=6, rerank=6)
    assert not any(h.reranked for h in third.hits)
    # Relevance: a reranked hit's is the odds ratio to the best reranked one, 1 at the top.
    first = service.search(QUERY, mode="hybrid", k=3, rerank=6)
    assert first.relevance(first.hits[0]) == pytest.approx(1.0)
    assert second.relevance(second.hits[0]) == pytest.approx(np.exp(second.hits[0].score - first.hits[0].score))


def test_filters_choose_the_documents_before_they_are_reranked(service):
    filters = Filters(collection="library")
    plain = service.search(QUERY, mode="dense", k=10, filters=filters)
    reranked = service.search(QUERY, mode="dense", k=10, filters=filters, rerank=10)
    assert {h.collection for h in reranked.hits} == {"library"}
    assert {h.key for h in reranked.hits} == {h.key for h in plain.hits} and reranked.rerank_depth == len(plain.hits) == 3


def test_a_service_without_a_reranker_says_so_and_still_searches(instance, database_url, tmp_path):
    service = SearchService.open(instance, database_url)
    try:
        with pytest.raises(RerankUnavailable, match="not available on this server: no reranker is configured"):
            service.search(QUERY, rerank=5)
        assert service.search(QUERY, rerank=0).hits
        missing = Reranker(tmp_path / "nowhere")
        assert "no reranker at" in missing.problem and "train-reranker" in missing.problem
        encoder = Reranker(service.index.model)  # a folder holding a model, but not a reranker
        assert encoder.problem.endswith("is not a reranker (SEARCHAPP_RERANKER names it)")
        with pytest.raises(RerankUnavailable, match="is not a reranker"):
            SearchService(service.index, encoder).search(QUERY, rerank=3)
    finally:
        service.index.close()


def test_a_reranker_with_a_bad_blend_weight_is_refused_before_any_search(instance, database_url, tiny_reranker):
    save_settings(tiny_reranker, {FIRST_STAGE_WEIGHT_KEY: 2})
    service = SearchService.open(instance, database_url, reranker=Reranker(tiny_reranker))
    try:
        assert service.reranker.problem.endswith(f"config.json's {FIRST_STAGE_WEIGHT_KEY} must be a number from 0 to 1, not 2")
        with pytest.raises(RerankUnavailable, match="not available on this server"):
            service.search(QUERY, rerank=3)
    finally:
        service.index.close()


def test_labels_and_depths():
    assert search_label("hybrid", 0) == "hybrid" and search_label("hybrid", 30) == "hybrid + rerank@30"
    assert checked_depth(0) == 0 and checked_depth(100) == 100
    with pytest.raises(ValueError, match="from 1 to 100"):
        checked_depth(101)


def test_a_reranked_quality_run_measures_the_reranked_searches(tmp_path, tiny_checkpoint, tiny_reranker, database_url):
    beir = write_beir(tmp_path / "beir")
    with open_for_writing(tmp_path / "instance", database_url, model=tiny_checkpoint) as index:
        index_paths(index, [beir], IndexConfig(format="beir"))
    service = SearchService.open(tmp_path / "instance", database_url, reranker=Reranker(tiny_reranker))
    store = service.index.store
    with (beir / "queries.jsonl").open() as queries, (beir / "qrels" / "test.tsv").open(newline="") as qrels:
        labelled = add_labelled(store, "samples", "default", queries, qrels, "queries.jsonl", "test.tsv")
    plain = quality_store.run(store, quality_store.add_run(store, labelled, "dense", claimed=True))
    reranked = quality_store.run(store, quality_store.add_run(store, labelled, "dense", claimed=True, rerank=3))
    assert (plain.rerank, plain.label, reranked.rerank, reranked.label) == (0, "dense", 3, "dense + rerank@3")
    for run in (plain, reranked):
        assert measure(service, store, run, labelled)
    expected = {query_id: [h.id for h in service.search(labelled.queries[query_id], "dense", k=10,
                                                        filters=Filters(collection="default"), rerank=3).hits]
                for query_id in labelled.qrels}
    assert {o.query_id: o.top_ids for o in quality_store.outcomes(store, reranked.id)} == expected
    assert {o.query_id: o.top_ids for o in quality_store.outcomes(store, plain.id)} != expected
    assert set(latest_runs(quality_store.runs(store, "samples"))) == {"dense", "dense + rerank@3"}
    service.index.close()


def test_a_store_from_before_reranking_gains_the_column(database_url):
    store = open_store(database_url)
    with store.engine.begin() as connection:  # the quality tables as schema version 3 made them, with one run
        connection.execute(text("ALTER TABLE quality_runs DROP COLUMN rerank"))
        connection.execute(text("INSERT INTO quality_sets (name, collection, queries, qrels, created_at) "
                                "VALUES ('old', 'c', '{}', '{}', CURRENT_TIMESTAMP)"))
        connection.execute(text("INSERT INTO quality_runs (set_id, mode, status, done, total, created_at) "
                                "SELECT id, 'hybrid', 'done', 0, 0, CURRENT_TIMESTAMP FROM quality_sets"))
        connection.execute(text("UPDATE settings SET value = '3' WHERE key = 'schema_version'"))
    store.engine.dispose()
    store = open_store(database_url)
    assert store.get("schema_version") == str(SCHEMA_VERSION) == "4"
    assert [(run.mode, run.rerank, run.label) for run in quality_store.runs(store)] == [("hybrid", 0, "hybrid")]
    store.engine.dispose()


def test_a_document_without_a_title_is_read_titled_by_its_opening_words(tmp_path, tiny_checkpoint, tiny_reranker, database_url):
    # One sentence shares the query's words, well past the first passage, so the passage shown is the same on every search.
    unrelated = " ".join(SENTENCES[i] for i in (2, 4, 5))
    text = f"{unrelated} {unrelated} {unrelated} The cat slept by the river on the warm stones all afternoon."
    folder = tmp_path / "untitled"
    with open_for_writing(folder, database_url=database_url, model=tiny_checkpoint) as index:
        index_records(index, [Record("u", "", text, {}, "test"), Record("t", "Titled", text, {}, "test")], IndexConfig(collection="docs"))
    service = SearchService.open(folder, database_url, reranker=Reranker(tiny_reranker))
    try:
        hits = {hit.id: hit for hit in service.search(QUERY, mode="lexical", k=2, bm25="passage").hits}
        assert all(hit.passage[0] > 0 for hit in hits.values())  # both shown by a passage further in than their start
        store = service.index.store
        first = store.passages([next(c for d, _, c in store.document_chunks([hits["u"].key]) if d == hits["u"].key)])
        opening = next(iter(first.values())).text
        assert first and opening == text[:len(opening)] and len(opening.split()) > 1
        reranked = service.search(QUERY, mode="lexical", k=2, bm25="passage", rerank=2)
        shown = {key: text[slice(*hit.passage)] for key, hit in hits.items()}
        expected = {"u": " ".join(opening.split()[:OPENING_WORDS]) + "\n" + shown["u"], "t": "Titled\n" + shown["t"]}  # a title stays
        assert reranked_text("", shown["u"], opening) == expected["u"] != shown["u"]
        scorer = CrossEncoder.load(tiny_reranker, precision=reranking_precision())
        scores = scorer.score(QUERY, [expected[h.id] for h in reranked.hits]).tolist()
        # The tiny reranker's scores differ by about 2% between the texts, far above float noise (1e-6 or so).
        assert [h.score for h in reranked.hits] == pytest.approx(scores, rel=1e-3)
        assert scorer.score(QUERY, [shown[h.id] for h in reranked.hits]).tolist() != pytest.approx(scores, rel=1e-3)
    finally:
        service.index.close()

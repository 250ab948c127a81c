"""Quality runs (indexer/quality.py, indexer/quality_store.py): the figures, by hand and against
`evaluate_beir`; progress, pausing and resuming; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from encoder.training.evaluation import read_judged
from indexer import quality_store
from indexer.evaluation import evaluate_beir
from indexer.ingest import IndexConfig, index_paths
from indexer.quality import add_labelled, dense_ndcg, measure, work_on_waiting_runs
from indexer.ranking import Filters
from indexer.schema import QualityRun
from indexer.search import SearchService
from indexer.search_index import open_for_writing
from indexer.store import open_store
from samples import SENTENCES

QUERIES = {"q1": "cats", "q2": "rivers", "q3": "stars"}
QRELS = "query-id\tcorpus-id\tscore\nq1\tcat\t2\nq1\tmat\t1\nq2\triver\t1\nq3\tstar\t0\n"  # q3: judged, nothing relevant


def lines(queries: dict[str, str]) -> list[str]:
    return [json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()]


class FixedService:
    """A search service whose rankings are set by the test, so the figures can be worked out by hand."""

    RANKINGS = {"cats": ["dog", "cat", "x", "mat"], "rivers": ["river"]}

    def __init__(self) -> None:
        self.index = SimpleNamespace(loaded_version=7, model=Path("/models/nowhere"))
        self.searched: list[tuple[str, str, Filters]] = []

    def refresh(self) -> None:
        pass

    def search(self, query, mode, k, filters, rerank=0):
        self.searched.append((query, mode, filters))
        hits = [SimpleNamespace(id=doc) for doc in self.RANKINGS[query][:k]]
        return SimpleNamespace(hits=hits, took_ms=float(len(self.searched)))


def test_a_run_stores_hand_computed_figures_and_its_identity(database_url):
    store = open_store(database_url)
    labelled = add_labelled(store, "cats-and-rivers", "notes", lines(QUERIES), QRELS.splitlines(True), "queries.jsonl", "qrels.tsv")
    assert set(labelled.qrels) == {"q1", "q2"}  # q3 has no relevant document: it would only dilute the means
    run_id = quality_store.add_run(store, labelled, "hybrid")
    service = FixedService()
    assert work_on_waiting_runs(store, lambda: service, lambda: False) == 1
    assert [(q, m, f.collection) for q, m, f in service.searched] == [("cats", "hybrid", "notes"), ("rivers", "hybrid", "notes")]
    # q1: "cat" (grade 2) at rank 2, "mat" (grade 1) at rank 4; ideal: 2 at rank 1, 1 at rank 2.
    ndcg_q1 = (2 / math.log2(3) + 1 / math.log2(5)) / (2 + 1 / math.log2(3))
    run = quality_store.run(store, run_id)
    assert (run.status, run.done, run.total, run.index_version, run.model) == ("done", 2, 2, 7, "nowhere")
    assert run.metrics["ndcg@10"] == pytest.approx(100 * (ndcg_q1 + 1) / 2)
    assert run.metrics["mrr@10"] == pytest.approx(100 * (1 / 2 + 1) / 2)
    assert run.metrics["recall@100"] == pytest.approx(100)
    assert run.metrics["p50 ms"] == pytest.approx(1.5) and run.metrics["queries"] == 2
    by_query = {o.query_id: o for o in quality_store.outcomes(store, run_id)}
    assert by_query["q1"].ndcg == pytest.approx(100 * ndcg_q1) and by_query["q1"].top_ids == ["dog", "cat", "x", "mat"]
    store.engine.dispose()


def test_a_paused_run_resumes_where_it_stopped_and_a_dead_process_run_is_taken_over(database_url):
    store = open_store(database_url)
    labelled = add_labelled(store, "s", "notes", lines(QUERIES), QRELS.splitlines(True), "q", "r")
    run_id = quality_store.add_run(store, labelled, "dense")
    service = FixedService()
    assert work_on_waiting_runs(store, lambda: service, lambda: len(service.searched) >= 1) == 0  # a write came: pause
    paused = quality_store.run(store, run_id)
    assert (paused.status, paused.done) == ("queued", 1)
    assert work_on_waiting_runs(store, lambda: service, lambda: False) == 1
    assert len(service.searched) == 2 and quality_store.run(store, run_id).done == 2  # the first query was not run again

    claimed = quality_store.add_run(store, labelled, "lexical", claimed=True)  # a foreground `quality run`, alive
    assert not quality_store.has_waiting(store) and quality_store.claim_next(store) is None
    with store.session.begin() as session:  # ... whose process died three minutes ago
        session.execute(update(QualityRun).where(QualityRun.id == claimed).values(
            heartbeat=quality_store._now() - quality_store.STALE_AFTER - timedelta(minutes=1)))
    assert quality_store.claim_next(store).id == claimed
    store.engine.dispose()


def test_a_run_on_a_missing_collection_fails_with_the_reason(instance, tiny_checkpoint, database_url):
    service = SearchService.open(instance, database_url)
    store = service.index.store
    labelled = add_labelled(store, "s", "nowhere", lines(QUERIES), QRELS.splitlines(True), "q", "r")
    run = quality_store.run(store, quality_store.add_run(store, labelled, "lexical", claimed=True))
    assert measure(service, store, run, labelled)
    failed = quality_store.run(store, run.id)
    assert failed.status == "failed" and "no collection named 'nowhere'" in failed.error
    service.index.close()


def write_beir(folder: Path) -> Path:
    """Graded judgements over the sample sentences, some relevant documents hard to find."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n" for i, t in enumerate(SENTENCES)))
    queries = {"q0": "a red pen", "q1": "vaccines against disease", "q2": "the market fell", "q3": "a cat on a mat"}
    (folder / "queries.jsonl").write_text("".join(lines(queries)))
    judged = [("q0", "d0", 2), ("q0", "d5", 1), ("q1", "d1", 1), ("q1", "d4", 2), ("q2", "d2", 1), ("q3", "d3", 1), ("q3", "d6", 1)]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{g}\n" for q, d, g in judged))
    return folder


def test_run_figures_equal_eval_retrievals_on_the_same_data_and_mode(tmp_path, tiny_checkpoint, database_url):
    beir = write_beir(tmp_path / "beir")
    expected = evaluate_beir(beir, tiny_checkpoint)
    with open_for_writing(tmp_path / "instance", database_url, model=tiny_checkpoint) as index:
        index_paths(index, [beir], IndexConfig(format="beir"))
    service = SearchService.open(tmp_path / "instance", database_url)
    store = service.index.store
    with (beir / "queries.jsonl").open() as queries, (beir / "qrels" / "test.tsv").open(newline="") as qrels:
        labelled = add_labelled(store, "samples", "default", queries, qrels, "queries.jsonl", "test.tsv")
    for mode, figures in expected.items():
        run = quality_store.run(store, quality_store.add_run(store, labelled, mode, claimed=True))
        assert measure(service, store, run, labelled)
        measured = quality_store.run(store, run.id).metrics
        for name in ("ndcg@10", "recall@100", "mrr@10", "queries"):
            assert measured[name] == pytest.approx(figures[name]), (mode, name)
    assert 0 < expected["dense"]["ndcg@10"] < 100  # the comparison is of figures that could differ
    # What `adapt --check` compares: the same figure, from the vectors given rather than through the service.
    assert dense_ndcg(service.index, service.index.vectors, labelled) == pytest.approx(expected["dense"]["ndcg@10"])
    service.index.close()


@pytest.mark.parametrize(("queries", "qrels", "message"), [
    (['{"_id": "q1", "text": "cats"}\n', "{oops\n"], QRELS, "queries.jsonl, line 2: expected a JSON object"),
    (['{"_id": "q1"}\n'], QRELS, "queries.jsonl, line 1: expected a JSON object"),
    (lines(QUERIES), "qid\tdoc\tscore\n", "qrels.tsv, line 1: expected a header naming the columns"),
    (lines(QUERIES), "query-id\tcorpus-id\tscore\nq1\tcat\t2\nq1\tmat\thigh\n", "qrels.tsv, line 3: expected query-id"),
    (lines({"q9": "x"}), QRELS, "qrels.tsv: judges 2 queries absent from queries.jsonl"),
    (lines(QUERIES), "query-id\tcorpus-id\tscore\nq3\tstar\t0\n", "no query has a relevant document"),
])
def test_a_bad_set_names_its_file_and_line(tmp_path, queries, qrels, message):
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    with pytest.raises(ValueError, match=message):
        add_labelled(store, "s", "notes", queries, qrels.splitlines(True), "queries.jsonl", "qrels.tsv")
    with pytest.raises(ValueError, match="set name"):
        add_labelled(store, "../x", "notes", lines(QUERIES), QRELS.splitlines(True), "q", "r")
    add_labelled(store, "s", "notes", lines(QUERIES), QRELS.splitlines(True), "q", "r")
    with pytest.raises(ValueError, match="exists already"):
        add_labelled(store, "s", "notes", lines(QUERIES), QRELS.splitlines(True), "q", "r")


def test_qrels_columns_are_found_by_name_in_any_order():
    queries, qrels = read_judged(lines(QUERIES), ["score\tquery-id\tcorpus-id\n", "2\tq1\tcat\n"], "q", "r")
    assert qrels == {"q1": {"cat": 2}} and set(queries) == {"q1"}

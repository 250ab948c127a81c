"""`adapt` on the tiny instance (SQLite and PostgreSQL): the adapted model is recorded and switched to
with every vector at once; a crash while encoding, or at the switch, leaves the old model and vectors
serving consistently and the next run completes; a reader open across the switch never mixes them."""

from __future__ import annotations

import resource
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from encoder import Encoder, passage_text
from encoder.checkpoint import WEIGHTS_FILE
from encoder.training.adapt import AdaptConfig
from indexer import adaptation
from indexer.adaptation import STAGING_FOLDER, Staging, pending_model, read_record, switch_to, train
from indexer.checksums import record
from indexer.retrieval import DenseRetriever
from indexer.ranking import DocumentScope, Filters
from indexer.schema import Chunk
from indexer.search import SearchService
from indexer.search_index import SearchIndex, open_for_writing

CONFIG = AdaptConfig(init_checkpoint="", output_dir="", time_budget_s=0, max_steps=2, batch_size=4, lr=3e-3, span_words=(2, 6), positive_words=(3, 8),
                     pair_rounds=2, device="cpu", precision="float32")


class Crash(Exception):
    pass


def trained(instance: Path, database_url: str) -> Path:
    with closing(SearchIndex.open(instance, database_url)) as index:
        return train(index, CONFIG, show_progress=False)


def stored_vectors(instance: Path, database_url: str) -> np.ndarray:
    with closing(SearchIndex.open(instance, database_url)) as index:
        ids = np.sort(index.store.chunk_ids())
        return np.vstack([vectors for _, vectors in index.store.stored_vectors(ids)])


def check_ok(instance: Path, database_url: str) -> bool:
    with closing(SearchIndex.open(instance, database_url)) as index:
        return index.check().ok


def test_training_reads_the_documents_as_a_stream_not_a_list(instance, database_url, monkeypatch):
    """A collection of millions of documents must not be held whole before `adapt` samples it."""
    seen = {}

    def taking(config, documents, passages, show_progress):
        seen["documents"] = documents
        raise Crash

    monkeypatch.setattr(adaptation, "adapt", taking)
    with pytest.raises(Crash):
        trained(instance, database_url)
    assert not isinstance(seen["documents"], (list, tuple)) and iter(seen["documents"]) is seen["documents"]
    assert len(list(seen["documents"])) == 11  # every document of the test instance, streamed from the store


def test_adapt_records_the_base_switches_everything_and_keeps_check_clean(instance, tiny_checkpoint, database_url):
    before = stored_vectors(instance, database_url)
    model = trained(instance, database_url)
    made = read_record(model)
    assert made["base_model"] == str(tiny_checkpoint) and made["base_sha256"] == record(tiny_checkpoint / WEIGHTS_FILE).sha256
    assert made["steps"] == 2 and made["documents"] > 0 and made["config"]["lr"] == CONFIG.lr
    assert model.parent == instance.resolve() / "models" and pending_model(instance, tiny_checkpoint) == model

    switched = switch_to(instance, model, database_url)
    assert switched.chunks == len(before) and switched.resumed == 0
    assert not (instance / STAGING_FOLDER).exists() and pending_model(instance, model) is None
    assert not np.allclose(stored_vectors(instance, database_url), before)
    assert check_ok(instance, database_url)
    service = SearchService.open(instance, database_url)
    assert service.index.model == model and service.index.vectors.model == model
    assert service.search("river flood", k=3).hits


def test_a_crash_while_encoding_loses_nothing_and_the_next_run_continues(instance, database_url, monkeypatch):
    before = stored_vectors(instance, database_url)
    model = trained(instance, database_url)
    monkeypatch.setattr(adaptation, "STAGING_BATCH", 3)
    real_add, calls = Staging.add, []

    def crash_on_second(self, ids, vectors, digests):
        calls.append(len(ids))
        if len(calls) == 2:
            raise Crash
        real_add(self, ids, vectors, digests)

    monkeypatch.setattr(Staging, "add", crash_on_second)
    with pytest.raises(Crash):
        switch_to(instance, model, database_url)
    assert np.array_equal(stored_vectors(instance, database_url), before) and check_ok(instance, database_url)
    with closing(SearchIndex.open(instance, database_url)) as index:
        assert index.model != model and pending_model(instance, index.model) == model
    monkeypatch.setattr(Staging, "add", real_add)
    switched = switch_to(instance, model, database_url)
    assert switched.resumed == 3 and switched.chunks == len(before)
    assert check_ok(instance, database_url)


def test_a_staged_vector_of_a_text_changed_since_is_encoded_again(instance, database_url, monkeypatch):
    """A run resumed after writes: a chunk whose text changed after its vector was staged (SQLite can give a
    rewritten document's new chunk a deleted one's id) gets a vector of its new text, not the stale one."""
    model = trained(instance, database_url)
    monkeypatch.setattr(adaptation, "STAGING_BATCH", 3)
    real_add = Staging.add

    def crash_after_first(self, ids, vectors, digests):
        if self.added:
            raise Crash
        real_add(self, ids, vectors, digests)

    monkeypatch.setattr(Staging, "add", crash_after_first)
    with pytest.raises(Crash):
        switch_to(instance, model, database_url)
    monkeypatch.setattr(Staging, "add", real_add)
    with closing(SearchIndex.open(instance, database_url)) as index:
        staged = index.store.chunk_ids()[:3]
        with index.store.session.begin() as session:
            session.execute(update(Chunk).where(Chunk.id == int(staged[1])).values(text="An entirely different text about volcanoes."))
    switched = switch_to(instance, model, database_url)
    assert switched.resumed == 2
    with closing(SearchIndex.open(instance, database_url)) as index:
        (_, title, text), = [row for row in index.store.titled_texts() if row[0] == staged[1]]
        (_, stored), = list(index.store.stored_vectors(np.array([staged[1]])))
        fresh = Encoder.load(model).encode([passage_text(title, text)])
        assert float(stored[0] @ fresh[0]) > 0.999


def test_a_crash_at_the_switch_serves_old_with_old_and_the_next_writer_repairs(instance, tiny_checkpoint, database_url, monkeypatch):
    model = trained(instance, database_url)
    reader = SearchService.open(instance, database_url)
    monkeypatch.setattr(SearchIndex, "repair", lambda self: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):  # the store holds the new model and vectors; the saved version, the old ones
        switch_to(instance, model, database_url)
    monkeypatch.undo()
    with closing(SearchIndex.open(instance, database_url)) as index:
        report = index.check()
        assert not report.ok and any("adapt" in problem for problem in report.problems)
        assert index.vectors.model == tiny_checkpoint and index.query_encoder(index.vectors) is index.encoders.get(tiny_checkpoint)
    assert reader.search("river flood", k=3).hits
    with open_for_writing(instance, database_url):  # its sync rebuilds the saved version from the store
        pass
    assert check_ok(instance, database_url)
    reader.refresh()
    assert reader.index.vectors.model == model


def test_a_reader_open_across_the_switch_encodes_queries_with_the_model_of_the_vectors(instance, tiny_checkpoint, database_url):
    reader = SearchService.open(instance, database_url)
    old_vectors = reader.index.vectors
    with closing(SearchIndex.open(instance, database_url)) as index:
        old_stored = {int(i): v for ids, vectors in index.store.stored_vectors(index.store.chunk_ids()) for i, v in zip(ids, vectors)}
    model = trained(instance, database_url)
    switch_to(instance, model, database_url)
    reader.refresh()
    new_vectors = reader.index.vectors
    assert new_vectors is not old_vectors and new_vectors.model == model
    query = "river flood"
    expected = Encoder.load(model, precision="float32").encode([query])
    top = reader.search(query, "dense", k=1).hits[0]
    chunk = reader.index.vectors.search(expected, 1)[1][0][0]
    _, stored = reader.index.store.stored_vectors([chunk]).__next__()
    assert top.score == pytest.approx(float(stored[0] @ expected[0]), abs=1e-3)

    # A refresh that swaps the vectors between a query's encoding and its search: the retriever
    # searches the vectors it encoded for, with their model's encoder.
    retriever = DenseRetriever(reader.index, DocumentScope(reader.index.store, Filters()))
    reader.index.vectors = old_vectors
    old_vectors.model = None  # a version from before the switch: the instance's model at the reader's opening
    encoders = []
    real = reader.index.query_encoder

    def swapping(vectors):
        encoders.append(real(vectors))
        reader.index.vectors = new_vectors  # the concurrent refresh
        return encoders[-1]

    reader.index.query_encoder = swapping
    ranking = retriever.chunks(query, 3)
    assert encoders == [reader.index.encoders.get(tiny_checkpoint)]
    old_query = Encoder.load(tiny_checkpoint, precision="float32").encode([query])[0]
    assert ranking.scores[0] == pytest.approx(float(old_stored[int(ranking.ids[0])] @ old_query), abs=1e-3)


def test_staging_reads_more_parts_than_the_process_may_open_files(tmp_path):
    """A run over millions of chunks stages thousands of parts: each is closed once read, not left open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    staging = Staging(tmp_path / STAGING_FOLDER, tmp_path / "model")
    parts = 300
    for chunk in range(parts):
        staging.add(np.array([chunk]), np.full((1, 4), chunk, np.float32), np.array([10 * chunk]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))  # fewer than the parts
    try:
        ids = np.arange(parts)
        assert staging.current(ids, 10 * ids).all()
        staged, vectors = staging.vectors(ids)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert staged.tolist() == ids.tolist() and vectors[:, 0].tolist() == ids.tolist()
    assert len(list((tmp_path / STAGING_FOLDER).glob("part-*.npz"))) == parts

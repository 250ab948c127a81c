"""The search service: modes, grouping, filters, pages, and picking up a newer index."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sqlalchemy import select

from encoder import CheckpointError, serving_precision
from indexer.ingest import IndexConfig, index_records
from indexer.ranking import Filters
from indexer.readers import Record
from indexer.retrieval import DENSE_WEIGHT_KEY, FALLBACK_DENSE_WEIGHT
from indexer.search import SearchService, UnknownCollection
from indexer.search_index import SearchIndex
from indexer.schema import Chunk
from samples import SENTENCES
from search_instance import build_instance


@pytest.fixture
def service(instance, database_url):
    service = SearchService.open(instance, database_url)
    yield service
    service.index.close()


def test_dense_finds_a_document_by_its_own_text(service):
    found = service.search(SENTENCES[1], mode="dense", k=3, filters=Filters(collection="notes"))
    assert found.hits[0].id == "n1" and found.hits[0].collection == "notes"
    assert found.hits[0].score == pytest.approx(max(h.score for h in found.hits))
    assert found.mode == "dense" and found.took_ms > 0
    assert service.index.encoder.precision == serving_precision()  # bf16 weights on a CPU that multiplies bf16, else float32


def test_lexical_matches_words_and_highlights_them(service):
    found = service.search("cattle", mode="lexical", k=10)
    assert {h.id for h in found.hits} == {"n6", "long"}  # the only documents with the word
    assert found.total == 2
    for hit in found.hits:
        assert [hit.snippet.text[s:e].lower() for s, e in hit.snippet.highlights] == ["cattle"] * len(hit.snippet.highlights)
        assert hit.snippet.highlights


def test_a_word_in_no_document_finds_nothing_lexically(service):
    assert service.search("zyzzyva", mode="lexical").hits == []


def assert_hybrid_weighs(service: SearchService, share: float) -> None:
    dense = {h.key: h.score for h in service.search("cattle", mode="dense", k=100).hits}
    lexical = {h.key: h.score for h in service.search("cattle", mode="lexical", k=100, expand=True).hits}
    hybrid = service.search("cattle", mode="hybrid", k=100)  # expanded, as hybrid searches are by default
    assert set(lexical) <= {h.key for h in hybrid.hits}
    # Each list's scores normalised from its floor (cosine -1, BM25 0) to its top, then weighed.
    top_dense, top_lexical = max(dense.values()), max(lexical.values())
    for hit in hybrid.hits:
        expected = (share * ((dense[hit.key] + 1) / (top_dense + 1) if hit.key in dense else 0.0)
                    + (1 - share) * (lexical.get(hit.key, 0.0) / top_lexical))
        assert hit.score == pytest.approx(expected)


def test_hybrid_fuses_both_rankings_at_the_fallback_share_for_a_model_that_names_none(service):
    assert DENSE_WEIGHT_KEY not in service.index.encoder.settings
    assert_hybrid_weighs(service, FALLBACK_DENSE_WEIGHT)


def test_hybrid_weighs_dense_by_the_share_its_model_names_and_a_bad_one_stops_the_service(tmp_path, tiny_checkpoint, database_url):
    model = tmp_path / "tuned"
    shutil.copytree(tiny_checkpoint, model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, DENSE_WEIGHT_KEY: 0.7}))
    service = SearchService.open(build_instance(tmp_path / "tuned-instance", model, database_url), database_url)
    try:
        assert service.index.encoder.settings[DENSE_WEIGHT_KEY] == 0.7
        assert_hybrid_weighs(service, 0.7)
    finally:
        service.index.close()
    (model / "config.json").write_text(json.dumps({**config, DENSE_WEIGHT_KEY: 7}))
    with pytest.raises(CheckpointError, match=f"tuned: config.json's {DENSE_WEIGHT_KEY} must be a number from 0 to 1, not 7"):
        SearchService.open(tmp_path / "tuned-instance", database_url)


def test_a_document_with_many_chunks_appears_once(service):
    chunks = service.index.vectors.search(service.index.encoder.encode(["river valley flood"]), 50)[1][0]
    assert len(chunks[chunks >= 0]) > 12  # several of them belong to the long document
    ids = [h.id for h in service.search("river valley flood", mode="dense", k=50).hits]
    assert ids.count("long") == 1 and len(ids) == len(set((h.collection, h.id) for h in service.search("river valley flood", k=50).hits))


def test_filters_on_collection_and_metadata(service):
    books = service.search("cat", mode="hybrid", k=50, filters=Filters(metadata={"kind": ("book",)}))
    assert books.hits and {h.collection for h in books.hits} == {"library"}
    year = service.search("cat", mode="dense", k=50, filters=Filters(metadata={"year": ("2020",)}))
    assert [h.id for h in year.hits] == ["cats"]
    either = service.search("cat", mode="dense", k=50, filters=Filters(metadata={"year": ("2020", "2014")}))
    assert {h.id for h in either.hits} == {"cats", "long"}
    notes = service.search("cat", mode="dense", k=50, filters=Filters(collection="notes"))
    assert len(notes.hits) == len(SENTENCES) and {h.collection for h in notes.hits} == {"notes"}


def test_an_unknown_collection_is_refused_naming_the_known_ones(service):
    for mode in ("dense", "lexical", "hybrid"):
        with pytest.raises(UnknownCollection, match=r"^no collection named 'nope'; collections: library, notes$"):
            service.search("cat", mode=mode, filters=Filters(collection="nope"))
    assert service.search("cat", filters=Filters(collection="library")).hits  # a known one still searches


def test_relevance_is_the_score_relative_to_the_first_result(service):
    everything = service.search("cat mat", mode="lexical", k=3)
    later = service.search("cat mat", mode="lexical", k=2, offset=1)
    assert later.top_score == pytest.approx(everything.hits[0].score)
    assert [later.relevance(h) for h in later.hits] == pytest.approx([h.score / everything.hits[0].score for h in everything.hits[1:]])
    assert everything.relevance(everything.hits[0]) == pytest.approx(1.0)
    assert service.search("zyzzyva", mode="lexical").top_score == 0.0


def test_pages_are_slices_of_one_ranking(service):
    everything = [h.key for h in service.search("the", mode="dense", k=50).hits]
    assert len(everything) == len(SENTENCES) + 3
    pages = [h.key for offset in range(0, 12, 4) for h in service.search("the", mode="dense", k=4, offset=offset).hits]
    assert pages == everything[:12]
    assert service.search("the", mode="dense", k=4, offset=40).hits == []


def test_unknown_mode_is_refused(service):
    with pytest.raises(ValueError, match="unknown mode"):
        service.search("x", mode="fuzzy")


def test_documents_by_id_and_ambiguity(service):
    assert service.document("long").title == "Floods"
    assert service.document("n0", "library").title == "Same id, other collection"
    assert service.document("missing") is None
    with pytest.raises(LookupError, match="several collections"):
        service.document("n0")


def test_more_like_this_ranks_documents_by_their_best_chunk_against_the_centroid(service):
    document = service.document("n6", "notes")
    similar = service.similar(document, k=3)
    assert len(similar) == 3 and all(h.key != document.key for h in similar)
    with service.index.store.session() as session:
        rows = session.execute(select(Chunk.document_id, Chunk.vector)).all()
    vectors = {}
    for key, blob in rows:
        vectors.setdefault(key, []).append(np.frombuffer(blob, dtype="<f4"))
    centroid = np.mean(vectors[document.key], axis=0)
    centroid /= np.linalg.norm(centroid)
    best = {key: max(float(v @ centroid) for v in vs) for key, vs in vectors.items() if key != document.key}
    for hit in similar:
        assert hit.score == pytest.approx(best[hit.key], abs=1e-5)
    assert [h.score for h in similar] == sorted((h.score for h in similar), reverse=True)
    assert sorted(best.values(), reverse=True)[2] == pytest.approx(similar[-1].score, abs=1e-5)


def test_a_newer_index_saved_by_another_writer_is_picked_up(service, instance, database_url, tiny_checkpoint):
    assert service.search("zebras graze", mode="lexical").hits == []
    writer = SearchIndex.open(instance, database_url=database_url)
    index_records(writer, [Record("z", "Zebras", "Zebras graze on the savanna.", {}, "test")], IndexConfig(collection="notes"))
    writer.close()
    found = service.search("zebras graze", mode="lexical")
    assert [h.id for h in found.hits] == ["z"]
    assert service.index.loaded_version == writer.version


def test_selective_filters_widen_the_candidates_until_the_page_is_full(service, monkeypatch):
    expected = [h.key for h in service.search("the river", "dense", k=50, filters=Filters(collection="notes")).hits]
    monkeypatch.setattr("indexer.search.MIN_CANDIDATES", 2)  # a round of 2, then 8, 32, …
    monkeypatch.setattr("indexer.store_reads.SQL_BATCH", 3)  # and several SQL batches per round
    narrow = service.search("the river", "dense", k=5, filters=Filters(collection="notes"))
    assert [h.key for h in narrow.hits] == expected[:5]
    assert [h.id for h in service.search("cat", k=1, filters=Filters(metadata={"year": ("2020",)})).hits] == ["cats"]

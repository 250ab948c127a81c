"""`check`, `stats` and `serving_problems` over instances in the states they must tell apart (the
damaged files themselves: test_integrity.py)."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.inspection import check, serving_problems, stats
from indexer.readers import Record
from indexer.search_index import SearchIndex
from indexer.store import DocumentVersion
from samples import SENTENCES

DOCUMENTS = [Record(f"d{i}", f"Title {i}", text, {}, "test") for i, text in enumerate(SENTENCES)]


@pytest.fixture
def index(tmp_path, tiny_checkpoint, database_url):
    index = SearchIndex.open(tmp_path / "instance", database_url=database_url, model=tiny_checkpoint)
    yield index
    index.close()


def test_an_empty_instance_is_healthy(index):
    assert serving_problems(index) == [] and check(index).ok
    assert stats(index) | {"database": "", "model": ""} == {
        "database": "", "model": "", "dim": 32, "collections": {}, "documents": 0, "chunks": 0, "vectors": 0,
        "index_type": "flat", "index_version": 0, "index_bytes": stats(index)["index_bytes"]}


def test_a_sound_instance_counts_agree(index):
    index.upsert(DOCUMENTS, "one")
    index.upsert(DOCUMENTS[:3], "two")
    index.store.collection_id("empty")
    report = check(index)
    assert report.ok and (report.documents, report.missing, report.orphans, report.empty_documents) == (11, 0, 0, 0)
    assert report.chunks == report.vectors == len(index.vectors) and report.version_matches and report.lexical_matches
    summary = stats(index)
    assert summary["collections"] == {"one": 8, "two": 3, "empty": 0} and summary["documents"] == 11
    assert summary["chunks"] == summary["vectors"] == report.chunks and summary["index_version"] == index.version
    assert summary["index_bytes"] == sum((index.folder / name).stat().st_size for name in ("vectors.faiss", "vectors.faiss.meta.json", "vectors.json"))


def test_chunks_without_any_saved_index_are_reported(tmp_path, index, database_url):
    """A first indexing run killed before its first save: the store has chunks, the folder nothing."""
    index.upsert(DOCUMENTS[:2], "default", save=False)  # the crash: nothing reaches the disk
    reader = SearchIndex.open(tmp_path / "instance", database_url=database_url, mmap=True)
    assert reader.problems == [] and serving_problems(reader) == [
        "the store holds chunks but the index none (run `manage.py check --repair`)"]
    report = check(reader)
    assert not report.ok and report.missing == report.chunks > 0
    reader.close()


def test_what_a_save_would_not_mend_is_reported(index):
    index.upsert(DOCUMENTS[:4], "default")
    key = index.store.collection_id("default")
    index.store.write_documents(key, [DocumentVersion(None, "hollow", "", "text", {}, "h", [])], np.empty((0, 32), np.float32))
    index.vectors.remove(index.vectors.ids()[:1])
    index.save()  # one vector fewer than the store's chunks
    index.store.put({"index_version": str(index.version + 1)})
    report = check(index)
    assert (report.empty_documents, report.missing, report.version_matches, report.lexical_matches) == (1, 1, False, True)
    assert report.problems == ["1 chunks have no vector in the saved index", "1 documents have no chunk",
                               f"index file version {index.version - 1} differs from the store's {index.version}"]
    assert serving_problems(index) == []  # what this process serves is sound: check is the operator's tool

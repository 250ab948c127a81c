"""`SearchIndex` on both databases with a tiny model: the pinned model, the symmetric write API
(upsert, delete), save's choice of index type, readers following a writer, and an instance folder
written by earlier code."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

import manage
from encoder import BertConfig, BertModel, save_checkpoint
from indexer import jobs
from indexer.manifest import VECTORS_FILE
from indexer.readers import Record
from indexer.search_index import SearchIndex, Upserted, open_for_writing
from indexer.schema import StoreError
from samples import SENTENCES

LEGACY = Path(__file__).with_name("fixtures") / "legacy_instance.tar.gz"


def notes(*numbers: int, prefix: str = "n") -> list[Record]:
    return [Record(f"{prefix}{i}", f"Title {i}", SENTENCES[i % len(SENTENCES)] + f" Note {i}.", {"n": i}, "test") for i in numbers]


@pytest.fixture
def index(tmp_path, database_url, tiny_checkpoint):
    index = SearchIndex.open(tmp_path / "instance", database_url=database_url, model=tiny_checkpoint)
    yield index
    index.close()


def agree(index: SearchIndex) -> bool:
    """Store, vector index and BM25 index hold the same chunks, in memory and as saved."""
    chunks = np.sort(index.store.chunk_ids())
    return (np.array_equal(index.vectors.ids(), chunks) and np.array_equal(np.sort(index.lexical.ids), chunks)
            and index.check().ok)


def test_reopening_keeps_the_recorded_model(tmp_path, database_url, tiny_checkpoint):
    folder = tmp_path / "instance"
    SearchIndex.open(folder, database_url=database_url, model=tiny_checkpoint).close()
    reopened = SearchIndex.open(folder, database_url=database_url, default_model=tmp_path / "another")
    assert reopened.model == tiny_checkpoint and reopened.dim == 32 and reopened.encoder.dim == 32
    reopened.close()
    with pytest.raises(StoreError, match="no model recorded"):
        SearchIndex.open(tmp_path / "new", database_url=f"sqlite:///{tmp_path / 'new.sqlite3'}")


def test_another_model_than_the_one_that_made_the_vectors_is_refused(tmp_path, index, database_url, tiny_config, tiny_tokenizer,
                                                                    tiny_checkpoint, monkeypatch):
    empty = tmp_path / "empty"
    SearchIndex.open(empty, database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}", model=tiny_checkpoint).close()
    wider = save_checkpoint(tmp_path / "wide", BertModel(BertConfig(**{**tiny_config.to_dict(), "hidden_size": 48})), tiny_tokenizer, max_length=32)
    with pytest.raises(StoreError, match="dim"):  # no vectors yet, but an index of another width
        SearchIndex.open(empty, database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}", model=wider)

    index.upsert(notes(0, 1), "notes")
    retrained = save_checkpoint(tmp_path / "retrained", BertModel(tiny_config), tiny_tokenizer, max_length=32)  # same width
    for other in (wider, retrained):
        with pytest.raises(StoreError, match="vectors were made by"):
            SearchIndex.open(tmp_path / "instance", database_url=database_url, model=other)
    monkeypatch.chdir(tiny_checkpoint.parent)  # the recorded model, named by a relative path: the same one
    SearchIndex.open(tmp_path / "instance", database_url=database_url, model=Path(tiny_checkpoint.name)).close()
    copy = shutil.copytree(tiny_checkpoint, tmp_path / "copy")  # the same weights in another folder: taken
    SearchIndex.open(tmp_path / "instance", database_url=database_url, model=copy).close()
    assert len(index.vectors) == index.check().vectors


def test_upsert_then_delete_are_symmetric(index):
    version = index.version
    added = index.upsert(notes(0, 1, 2, 3), "notes")
    assert added == Upserted(added=4, updated=0, unchanged=0, chunks=added.chunks) and added.chunks >= 4
    assert index.version == version + 1 and agree(index)
    assert set(index.lexical.search("cattle valley", 5)[0]) <= set(index.store.chunk_ids())

    calls = []
    encode = index.encoder.encode
    index.encoder.encode = lambda texts, **kw: calls.append(len(texts)) or encode(texts, **kw)
    changed = [Record("n1", "Changed", "A completely new text about rivers.", {}, "test")]
    again = index.upsert(notes(0, 2) + changed + notes(3), "notes")  # n1 changed, the others as they were
    assert (again.added, again.updated, again.unchanged) == (0, 1, 3)
    assert calls == [again.chunks]  # only the changed document was encoded
    assert index.version == version + 2 and agree(index)

    assert index.delete(["n1", "n3", "missing"], "notes") == 2
    assert index.version == version + 3 and agree(index) and index.stats()["documents"] == 2
    assert index.delete(["n0"], "no-such-collection") == 0 and index.version == version + 3  # nothing to save


def test_writes_wait_for_one_save_when_asked(index):
    version = index.version
    index.upsert(notes(0, 1), "notes", save=False)
    index.delete(["n0"], "notes", save=False)
    assert index.version == version and len(index.vectors) == len(index.store.chunk_ids())
    assert not index.check().ok  # nothing saved yet
    assert index.save() == version + 1 and agree(index)


def test_save_rebuilds_a_flat_index_grown_past_exact_search_as_a_graph(index, monkeypatch):
    index.upsert(notes(0, 1), "notes")
    monkeypatch.setattr("indexer.vector_index.FLAT_MAX_VECTORS", len(index.vectors) + 1)
    index.upsert(notes(0, 1), "notes")  # unchanged: still small enough
    assert index.vectors.index_type == "flat"
    index.upsert(notes(*range(2, 12)), "notes")
    assert index.vectors.index_type == "hnsw" and agree(index)
    saved = json.loads((index.folder / "vectors.json").read_text())
    assert saved["type"] == "hnsw" and saved["vectors"] == len(index.vectors)
    assert index.reindex("flat").index_type == "flat"  # asked for by name: kept, however large
    assert json.loads((index.folder / "vectors.json").read_text())["type"] == "flat"


def test_delete_reindex_and_sync_keep_store_and_index_agreeing(tmp_path, index, database_url):
    index.upsert(notes(*range(12)), "notes")
    assert index.delete(["n1", "n2", "missing"], "notes") == 2
    assert index.check().ok and index.check().documents == 10
    index.reindex("hnsw")
    assert index.vectors.index_type == "hnsw" and agree(index)
    scores, ids = index.vectors.search(index.encoder.encode([f"Title 5\n{SENTENCES[5]} Note 5."]), 3)
    assert ids[0, 0] != -1 and scores[0, 0] > 0.9
    (index.folder / VECTORS_FILE).unlink()  # as if a crash lost the index file
    assert not index.check().ok
    reopened = SearchIndex.open(index.folder, database_url=database_url)
    added, removed = reopened.sync()
    assert added == reopened.check().chunks and removed == 0 and agree(reopened)
    reopened.close()


def test_a_reader_sees_a_writers_save_after_refresh(tmp_path, index, database_url):
    index.upsert(notes(0, 1), "notes")
    reader = SearchIndex.open(index.folder, database_url=database_url, mmap=True)
    assert reader.loaded_version == index.version and not reader.refresh()  # nothing new
    index.upsert(notes(2, 3), "notes")
    assert len(reader.vectors) < len(index.vectors)
    assert reader.refresh() and reader.loaded_version == index.version
    assert np.array_equal(reader.vectors.ids(), index.vectors.ids()) and np.array_equal(reader.lexical.ids, index.lexical.ids)
    reader.close()


def legacy_instance(tmp_path: Path) -> Path:
    with tarfile.open(LEGACY) as archive:
        archive.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # 3.10.12+
    return tmp_path / "instance"


def test_an_instance_folder_written_before_the_split_opens_and_takes_writes(tmp_path, tiny_checkpoint):
    """`legacy_instance.tar.gz` was written by the code before issue 11 (commit e1e3f36, see
    fixtures/build_legacy_instance.py): seven notes, saved version 3, one upsert queued, and no BM25
    index of whole documents: served from the store, said, and saved by the next writer."""
    folder = legacy_instance(tmp_path)
    reader = SearchIndex.open(folder, model=tiny_checkpoint, mmap=True)
    assert reader.version == 3 and reader.origins == {"vectors": "version 3", "lexical": "version 3", "document_lexical": ""}
    assert reader.damaged == {"document_lexical"} and len(reader.problems) == 1 and "older code saved" in reader.problems[0]
    assert reader.check().problems == reader.problems and reader.serving_problems() == reader.problems
    assert reader.serve_from_store() == ["document_lexical"] and reader.origins["document_lexical"] == "store"
    assert reader.stats()["collections"] == {"notes": 7} and len(reader.document_lexical) == 7
    assert np.array_equal(reader.vectors.ids(), reader.store.chunk_ids())
    found = reader.store.passages(reader.lexical.search("cat mat", 1)[0])
    assert [passage.external_id for passage in found.values()] == ["d3"]
    assert [d.id for d in reader.store.documents_with_id("d3")] == ["d3"]
    assert reader.document_lexical.search("cat mat", 1)[0].tolist() == [reader.store.documents_with_id("d3")[0].key]
    d5 = reader.store.documents_with_id("d5", "notes")[0]
    nearest = reader.vectors.search(reader.store.document_vectors(d5.key)[1][:1], 1)[1][0]
    assert reader.store.chunk_owners(nearest)[nearest[0]].document == d5.key  # a stored vector finds its own chunk
    with open_for_writing(folder) as writer:
        assert jobs.apply_pending(writer) == 1  # the queued upsert
        assert writer.delete(["d0"], "notes") == 1
    # The writer's sync saved version 4 with the missing index before its two changes saved theirs.
    assert reader.refresh() and reader.loaded_version == 6 and not reader.problems and reader.check().ok
    assert reader.origins["document_lexical"] == "version 6" and len(reader.document_lexical) == 7
    assert reader.stats()["collections"] == {"notes": 7} and reader.store.documents_with_id("q1")
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("search.sqlite3-")) == [
        "lexical-5", "lexical-6", "search.sqlite3", "vectors.faiss", "vectors.faiss.meta.json", "vectors.json", "write.lock"]
    assert (folder / "lexical-6" / "documents" / "ids.npy").is_file()
    reader.close()


def test_check_repair_saves_the_whole_document_index_an_old_instance_lacks(tmp_path, capsys, tiny_checkpoint):
    folder = legacy_instance(tmp_path)
    assert manage.main(["--instance", str(folder), "check"]) == 1
    assert "problem: document_lexical: not in version 3" in capsys.readouterr().out
    assert manage.main(["--instance", str(folder), "check", "--repair"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("ok")
    reader = SearchIndex.open(folder, mmap=True)
    assert not reader.problems and reader.origins["document_lexical"] == "version 4" and len(reader.document_lexical) == 7
    reader.close()

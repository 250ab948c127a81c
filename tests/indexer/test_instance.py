"""The instance folder: database location, writer lock, model pinning, and saved versions written,
verified, loaded and watched."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from damage import damage
from indexer.instance import LOCK_FILE, InstanceFolder, pin_model, store_url, write_lock
from indexer.lexical import LexicalIndex
from indexer.schema import StoreError
from indexer.store import open_store
from indexer.vector_index import VectorIndex

DIM = 4
MODEL = Path("models/default")  # only recorded: these tests encode nothing


def indexes(count: int) -> tuple[VectorIndex, LexicalIndex, LexicalIndex]:
    """`count` passages' vectors and BM25 index, and a BM25 index of the documents they would be cut from (two each)."""
    ids = np.arange(1, count + 1, dtype=np.int64)
    vectors = np.random.default_rng(count).standard_normal((count, DIM)).astype(np.float32)
    return VectorIndex.build(ids, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), "flat"), \
        LexicalIndex.build((int(i), f"passage number {i} about rivers") for i in ids), \
        LexicalIndex.build((int(i), f"passages {2 * i - 1} and {2 * i}") for i in range(1, (count + 1) // 2 + 1))


def test_the_database_is_sqlite_in_the_folder_unless_given(tmp_path):
    assert store_url(tmp_path) == f"sqlite:///{tmp_path / 'search.sqlite3'}"
    assert store_url(tmp_path, "postgresql+psycopg://db/x") == "postgresql+psycopg://db/x"


def test_a_second_writer_waits_for_the_lock(tmp_path):
    folder, acquired = tmp_path / "instance", threading.Event()

    def second_writer() -> None:
        with write_lock(folder):
            acquired.set()

    with write_lock(folder):  # creates the folder and its lock file
        assert (folder / LOCK_FILE).is_file()
        waiting = threading.Thread(target=second_writer)
        waiting.start()
        assert not acquired.wait(0.2)
    assert acquired.wait(5)
    waiting.join()


def test_the_model_is_pinned_by_the_store(tmp_path, tiny_checkpoint):
    store = open_store(store_url(tmp_path))
    with pytest.raises(StoreError, match="no model recorded"):
        pin_model(tmp_path, store, None, None)
    assert pin_model(tmp_path, store, None, tiny_checkpoint) == (tiny_checkpoint, 32)
    assert pin_model(tmp_path, store, None, tmp_path / "other") == (tiny_checkpoint, 32)  # the recorded one wins
    assert (store.get("model"), store.get("dim")) == (str(tiny_checkpoint), "32")
    store.engine.dispose()


def test_a_written_version_reads_back_verified_and_older_bm25_folders_go(tmp_path):
    folder = InstanceFolder(tmp_path, DIM)
    assert folder.read(mmap=False).manifest is None and folder.read(mmap=False).problems == []  # nothing saved yet
    for version in (1, 2, 3):
        manifest = folder.write(version, *indexes(version + 2), MODEL)
    assert manifest.version == 3 and manifest.vectors == 5 and folder.seen == folder.state()
    assert sorted(p.name for p in tmp_path.glob("lexical-*")) == ["lexical-2", "lexical-3"]  # the previous one, for readers
    found = InstanceFolder(tmp_path, DIM).read(mmap=True)
    assert found.problems == [] and set(found.components) == {"vectors", "lexical", "document_lexical"}
    assert np.array_equal(found.components["vectors"].ids(), np.arange(1, 6)) and len(found.components["lexical"]) == 5
    assert found.components["document_lexical"].ids.tolist() == [1, 2, 3]
    assert sorted(p.name for p in (tmp_path / "lexical-3").iterdir()) == ["data.npy", "documents", "ids.npy", "indptr.npy", "rows.npy", "vocabulary.json"]
    assert InstanceFolder(tmp_path, DIM + 1).read(mmap=True).problems == [
        "vectors: vectors.faiss holds 5 vectors of dim 4; the version file says 5, the store dim 5"]


def test_damage_is_reported_per_component(tmp_path):
    folder = InstanceFolder(tmp_path, DIM)
    folder.write(1, *indexes(3), MODEL)
    damage(tmp_path, "lexical/rows.npy", "truncate")
    found = folder.read(mmap=True)
    assert set(found.components) == {"vectors", "document_lexical"} and found.problems == [
        f"lexical-1/rows.npy: {(tmp_path / 'lexical-1/rows.npy').stat().st_size:,} bytes, "
        f"{json.loads((tmp_path / 'vectors.json').read_text())['files']['lexical-1/rows.npy']['size']:,} when saved (truncated or replaced)"]
    damage(tmp_path, "lexical/documents/ids.npy", "random")
    found = folder.read(mmap=True)
    assert set(found.components) == {"vectors"} and found.problems[1:] == ["lexical-1/documents/ids.npy: checksum mismatch (its bytes changed after it was saved)"]
    damage(tmp_path, "vectors.json", "garbage")
    assert folder.read(mmap=True).problems == ["vectors.json: not JSON (garbled)"]


def test_a_version_saved_before_whole_document_bm25_reads_without_it(tmp_path):
    """Older code listed no `documents/` files: the other components load, and the missing one is a
    problem that says how it gets built; a version file listing only some of its files is garbled."""
    folder = InstanceFolder(tmp_path, DIM)
    folder.write(1, *indexes(3), MODEL)
    saved = json.loads((tmp_path / "vectors.json").read_text())
    listed = saved["files"]
    saved["files"] = {name: record for name, record in listed.items() if "/documents/" not in name}
    (tmp_path / "vectors.json").write_text(json.dumps(saved))
    found = folder.read(mmap=True)
    assert set(found.components) == {"vectors", "lexical"} and found.manifest.components == ("vectors", "lexical")
    assert len(found.problems) == 1 and found.problems[0].startswith("document_lexical: not in version 1, which older code saved")
    assert "check --repair" in found.problems[0]
    saved["files"] = {name: record for name, record in listed.items() if name != "lexical-1/documents/ids.npy"}
    (tmp_path / "vectors.json").write_text(json.dumps(saved))
    assert folder.read(mmap=True).problems == ["vectors.json: does not list the files of a saved version (garbled)"]


def test_the_state_changes_with_a_new_version_and_a_mapped_file_written_in_place(tmp_path):
    writer, reader = InstanceFolder(tmp_path, DIM), InstanceFolder(tmp_path, DIM)
    manifest = writer.write(1, *indexes(3), MODEL)
    reader.seen = reader.state()
    reader.note_mapped("vectors", manifest)
    assert reader.state() == reader.seen and reader.rewritten() == []
    writer.write(2, *indexes(4), MODEL)  # files replaced by renames: the mapping stays on the old inodes
    assert reader.state() != reader.seen and reader.rewritten() == []
    reader.note_mapped("vectors", writer.read(mmap=True).manifest)
    damage(tmp_path, "vectors.faiss", "random")  # written in place
    assert reader.rewritten() == ["vectors"] and reader.rewritten() == []  # reported once, then forgotten

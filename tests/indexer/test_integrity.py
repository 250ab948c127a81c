"""Checksums of the saved index, and repair from the store: every way a file can be damaged, through
`manage.py check`, `check --repair`, `reindex`, the writers, and a reader's `refresh`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import manage
from damage import CASE_IDS, CASES, damage
from indexer.ingest import IndexConfig, index_records
from indexer.instance import InstanceFolder
from indexer.manifest import Manifest
from indexer.readers import Record
from indexer.search_index import SearchIndex, open_for_writing
from indexer.vector_index import VectorIndex
from samples import SENTENCES

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [Record(f"d{i}", f"Title {i}", text, {}, "test") for i, text in enumerate(SENTENCES)]


@pytest.fixture
def instance(tmp_path, tiny_checkpoint, database_url) -> Path:
    index = SearchIndex.open(tmp_path / "instance", database_url=database_url, model=tiny_checkpoint)
    index_records(index, DOCUMENTS, IndexConfig())
    index.close()
    return tmp_path / "instance"


def cli(capsys, instance: Path, database_url: str, *args: str) -> tuple[int, str]:
    """`manage.py` in this process (a subprocess per call would cost seconds of imports); its exit
    status and everything it printed."""
    status = manage.main(["--instance", str(instance), "--database", database_url, *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return status, captured.out + captured.err


def assert_sound(instance: Path, database_url: str) -> None:
    """check passes, and a reader finds each document by its own text, scored as a cosine."""
    index = SearchIndex.open(instance, database_url=database_url, mmap=True)
    try:
        assert index.check().ok and not index.problems and len(index.vectors) == len(index.store.chunk_ids())
        scores, ids = index.vectors.search(index.encoder.encode([f"Title 3\n{SENTENCES[3]}"]), 1)
        assert 0.9 < scores[0, 0] <= 1.0001 and ids[0, 0] in index.store.chunk_ids()
        assert len(index.lexical.search("cat mat", 5)[0]) > 0 and len(index.document_lexical.search("cat mat", 5)[0]) > 0
    finally:
        index.close()


def test_a_saved_version_records_every_file_it_is_made_of(instance):
    saved = json.loads((instance / "vectors.json").read_text())
    assert set(saved["files"]) == {"vectors.faiss", "vectors.faiss.meta.json"} | {
        f"{saved['lexical']}/{folder}{name}" for folder in ("", "documents/")
        for name in ("ids.npy", "data.npy", "rows.npy", "indptr.npy", "vocabulary.json")}
    for name, record in saved["files"].items():
        assert record["size"] == (instance / name).stat().st_size and len(record["sha256"]) == 64


@pytest.mark.parametrize("target,kind", CASES, ids=CASE_IDS)
def test_check_names_the_damage_and_every_repair_route_mends_it(capsys, instance, database_url, target, kind):
    damaged = damage(instance, target, kind)
    status, out = cli(capsys, instance, database_url, "check")
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    assert status == 1 and problems and any(damaged.name in line or "vectors.json" in line for line in problems), out
    assert "check --repair" in out
    assert cli(capsys, instance, database_url, "stats")[0] == 0

    status, out = cli(capsys, instance, database_url, "check", "--repair")
    assert status == 0 and "repaired: rebuilt a flat index of" in out and out.rstrip().endswith("ok")
    assert_sound(instance, database_url)

    damage(instance, target, kind, seed=1)
    status, out = cli(capsys, instance, database_url, "reindex")
    assert status == 0 and "rebuilt a flat index" in out
    assert_sound(instance, database_url)

    damage(instance, target, kind, seed=2)
    status, out = cli(capsys, instance, database_url, "delete", "d0")  # a writer repairs before it writes
    assert status == 0 and "deleted 1 of 1" in out
    assert_sound(instance, database_url)


@pytest.mark.parametrize("target,kind", CASES, ids=CASE_IDS)
def test_an_indexing_run_over_a_damaged_index_repairs_it_first(tmp_path, capsys, instance, database_url, target, kind):
    damage(instance, target, kind)
    source = tmp_path / "more.jsonl"
    source.write_text(json.dumps({"id": "extra", "text": "Zebras graze on the savanna."}) + "\n")
    status, out = cli(capsys, instance, database_url, "index", str(source), "--quiet")
    assert status == 0 and "1 added" in out
    assert_sound(instance, database_url)


def test_random_bytes_over_the_vectors_never_reach_a_search_or_a_later_write(instance, database_url):
    """F8: the file still loads in FAISS and scores 1e37; the checksum keeps it out of memory, and
    the next writer rebuilds it from the store rather than saving it again with its change."""
    damage(instance, "vectors.faiss", "random")
    reader = SearchIndex.open(instance, database_url=database_url, mmap=True)
    assert reader.damaged == {"vectors"} and len(reader.vectors) == 0 and len(reader.lexical) == len(reader.store.chunk_ids())
    assert any("vectors.faiss: checksum mismatch" in problem for problem in reader.problems)
    with open_for_writing(instance, database_url=database_url) as writer:
        writer.delete(["d7"], "default")
    assert reader.refresh() and not reader.problems and np.array_equal(reader.vectors.ids(), reader.store.chunk_ids())
    reader.close()
    assert_sound(instance, database_url)


def test_a_reader_keeps_its_good_version_when_a_newer_one_is_damaged(instance, database_url):
    reader = SearchIndex.open(instance, database_url=database_url, mmap=True)
    good = reader.vectors
    with open_for_writing(instance, database_url=database_url) as writer:
        writer.delete(["d1"], "default")
    damage(instance, "vectors.faiss", "random")
    reader.refresh()  # loads the new version's BM25 index, which is sound
    assert reader.vectors is good and reader.origins["vectors"] == "version 1" and "vectors" in reader.damaged
    assert reader.serve_from_store() == []  # it has a good copy: nothing to rebuild
    assert reader.serving_problems() == reader.problems != []
    reader.close()


def test_a_mapped_file_written_in_place_is_dropped_and_served_from_the_store(instance, database_url):
    reader = SearchIndex.open(instance, database_url=database_url, mmap=True)
    assert reader.origins == {"vectors": "version 1", "lexical": "version 1", "document_lexical": "version 1"}
    damage(instance, "vectors.faiss", "random")  # in place: the mapped pages now show these bytes
    reader.refresh()
    assert len(reader.vectors) == 0 and reader.origins["vectors"] == "" and reader.damaged == {"vectors"}
    assert reader.serve_from_store() == ["vectors"] and reader.origins["vectors"] == "store"
    scores, _ = reader.vectors.search(reader.encoder.encode([f"Title 2\n{SENTENCES[2]}"]), 1)
    assert 0.9 < scores[0, 0] <= 1.0001
    assert not reader.refresh()  # the same damage is not hashed again on every request
    reader.close()


def test_a_damaged_version_is_hashed_once_not_on_every_refresh(instance, database_url, monkeypatch):
    damage(instance, "lexical/rows.npy", "random")
    reader = SearchIndex.open(instance, database_url=database_url, mmap=True)
    hashed = []
    monkeypatch.setattr("indexer.checksums.record", lambda path: hashed.append(path))
    for _ in range(3):
        reader.refresh()
    assert hashed == [] and reader.damaged == {"lexical"}
    reader.close()


def test_a_store_whose_version_file_is_gone_is_not_an_empty_index(instance, database_url):
    (instance / "vectors.json").unlink()
    reader = SearchIndex.open(instance, database_url=database_url, mmap=True)
    assert reader.damaged == {"vectors", "lexical", "document_lexical"} and "missing" in reader.problems[0]
    assert not reader.check().ok
    reader.close()


@pytest.mark.commands
def test_the_command_line_never_prints_a_traceback_over_damaged_files(tmp_path, tiny_checkpoint):
    """The real process, over the worst case (every file garbage): warnings and problem lines only."""
    instance = tmp_path / "instance"
    index = SearchIndex.open(instance, model=tiny_checkpoint)
    index_records(index, DOCUMENTS, IndexConfig())
    index.close()
    for target in ("vectors.faiss", "vectors.faiss.meta.json", "lexical/rows.npy", "vectors.json"):
        damage(instance, target, "garbage")
    for args, status in ((["check"], 1), (["check", "--repair"], 0)):
        result = subprocess.run([sys.executable, str(ROOT / "manage.py"), "--instance", str(instance), *args],
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == status and "Traceback" not in result.stdout + result.stderr, result.stderr
        assert "the saved index is damaged" in result.stderr and "problem: vectors.json: not JSON" in result.stdout
    assert result.stdout.rstrip().endswith("ok")


def test_a_version_file_is_trusted_only_whole(instance):
    saved = json.loads((instance / "vectors.json").read_text())
    assert Manifest.parse(json.dumps(saved).encode()).files == Manifest.read(instance).files
    first = next(iter(saved["files"]))
    for garbled, reason in (
        ({**saved, "version": "1"}, "not valid"), ({**saved, "lexical": "../etc"}, "not valid"),
        ({**saved, "files": {**saved["files"], "../../etc/passwd": saved["files"][first]}}, "does not list"),
        ({**saved, "files": {**saved["files"], first: {"size": 1, "sha256": "z" * 64}}}, "not a file record"),
        ({key: value for key, value in saved.items() if key != "files"}, "older version"),
    ):
        with pytest.raises(ValueError, match=reason):
            Manifest.parse(json.dumps(garbled).encode())


def test_an_instance_saved_before_checksums_is_served_from_the_store_and_repaired(capsys, instance, database_url):
    saved = json.loads((instance / "vectors.json").read_text())
    del saved["files"]
    (instance / "vectors.json").write_text(json.dumps(saved))
    reader = SearchIndex.open(instance, database_url=database_url, mmap=True)
    assert reader.damaged == {"vectors", "lexical", "document_lexical"} and "older version" in reader.problems[0]
    assert reader.serve_from_store() == ["vectors", "lexical", "document_lexical"] and np.array_equal(reader.vectors.ids(), reader.store.chunk_ids())
    reader.close()
    assert cli(capsys, instance, database_url, "check", "--repair")[0] == 0
    assert_sound(instance, database_url)


def test_a_version_saved_while_a_reader_loads_is_picked_up_in_the_same_refresh(instance, database_url, monkeypatch):
    reader = SearchIndex.open(instance, database_url=database_url, mmap=True)
    writer = SearchIndex.open(instance, database_url=database_url)
    writer.delete(["d0"], "default")
    read, raced = InstanceFolder.read, []

    def racing(self, mmap):
        found = read(self, mmap)
        if self is reader.saved and not raced:
            raced.append(writer.delete(["d1"], "default"))  # saved while the reader was reading the previous one
        return found

    monkeypatch.setattr(InstanceFolder, "read", racing)
    assert reader.refresh() and raced == [1]
    assert reader.loaded_version == writer.version == 3 and not reader.problems
    assert np.array_equal(reader.vectors.ids(), reader.store.chunk_ids())
    reader.close()
    writer.close()


def test_a_file_replaced_between_its_hash_and_its_load_is_not_trusted(instance, database_url, monkeypatch, caplog):
    reader = SearchIndex.open(instance, database_url=database_url, mmap=True)
    with open_for_writing(instance, database_url=database_url) as writer:
        writer.delete(["d0"], "default")
    load, replaced = VectorIndex.load, []

    def load_then_replace(path, mmap=True):
        loaded = load(path, mmap)
        if not replaced:  # same bytes, another inode: what was hashed is not what was mapped
            replaced.append(shutil.copy(path, path.with_name("copy")))
            os.replace(path.with_name("copy"), path)
        return loaded

    monkeypatch.setattr(VectorIndex, "load", load_then_replace)
    reader.refresh()
    assert "vectors: replaced while being loaded" in caplog.text
    assert not reader.problems and reader.origins["vectors"] == f"version {writer.version}"  # loaded again, verified
    reader.close()

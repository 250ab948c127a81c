"""atomic_write and atomic_folder: the result in place, durable before it is published; a failure
leaves what was there before and no temporary behind."""

import os
from pathlib import Path

import pytest

from encoder import atomic
from encoder.atomic import atomic_folder, atomic_write


class Failed(Exception):
    pass


def fail_after(write):
    """A writer that does its work and then fails, as a full disk or a killed encoder would."""
    def failing(temp: Path) -> None:
        write(temp)
        raise Failed
    return failing


def write_files(temp: Path) -> None:
    (temp / "a.txt").write_text("A")
    (temp / "sub").mkdir()
    (temp / "sub" / "b.txt").write_text("B")


@pytest.fixture
def synced(monkeypatch):
    """Every path fsynced, in order."""
    calls: list[Path] = []
    real = atomic._fsync

    def recording(path: Path) -> None:
        calls.append(path)
        real(path)

    monkeypatch.setattr(atomic, "_fsync", recording)
    return calls


def test_atomic_write_replaces_the_file_and_syncs_it_before_its_folder(tmp_path, synced):
    path = tmp_path / "state.json"
    path.write_text("old")
    atomic_write(path, lambda temp: temp.write_text("new"))
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["state.json"]
    assert synced[-1] == tmp_path and synced[0].name.startswith(".state.json.")


def test_a_failed_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    with pytest.raises(Failed):
        atomic_write(path, fail_after(lambda temp: temp.write_text("half")))
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["state.json"]


def test_atomic_folder_publishes_every_file_synced_before_the_rename(tmp_path, synced):
    folder = tmp_path / "lexical-3"
    atomic_folder(folder, write_files)
    assert (folder / "a.txt").read_text() == "A" and (folder / "sub" / "b.txt").read_text() == "B"
    assert sorted(os.listdir(tmp_path)) == ["lexical-3"]
    temp = synced[0].parent
    assert temp.name.startswith("lexical-3.") and temp.name.endswith(".tmp")  # swept with lexical-* by name
    assert set(synced[:-1]) == {temp / "a.txt", temp / "sub", temp / "sub" / "b.txt", temp}
    assert synced[-2] == temp and synced[-1] == tmp_path  # the folder after its files; the rename last


def test_a_failed_atomic_folder_leaves_no_folder_and_no_temporary(tmp_path):
    with pytest.raises(Failed):
        atomic_folder(tmp_path / "lexical-3", fail_after(write_files))
    assert os.listdir(tmp_path) == []


def test_atomic_folder_never_writes_over_an_existing_folder(tmp_path):
    folder = tmp_path / "lexical-3"
    folder.mkdir()
    (folder / "a.txt").write_text("old")
    with pytest.raises(FileExistsError, match="lexical-3: already exists"):
        atomic_folder(folder, write_files)
    assert os.listdir(tmp_path) == ["lexical-3"] and os.listdir(folder) == ["a.txt"]
    assert (folder / "a.txt").read_text() == "old"


def test_what_is_written_gets_the_umask_permissions_not_owner_only_ones(tmp_path):
    previous = os.umask(0o022)
    try:
        atomic_write(tmp_path / "file", lambda temp: temp.write_text("x"))
        atomic_folder(tmp_path / "folder", write_files)
    finally:
        os.umask(previous)
    assert (tmp_path / "file").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755

import pytest

from encoder import Encoder
from encoder.training.transfer import PART_BYTES, SMALL_FILES_ARCHIVE, assemble, export


def test_an_exported_checkpoint_comes_back_whole(tmp_path, tiny_checkpoint, monkeypatch):
    log = tmp_path / "train_log.jsonl"
    log.write_text('{"step": 1}\n')
    monkeypatch.setattr("encoder.training.transfer.PART_BYTES", 4096)  # several parts, even for a tiny model
    written = export(tiny_checkpoint, [log, tmp_path / "absent.jsonl"], tmp_path / "out")
    parts = [p for p in written if ".part" in p.name]
    assert len(parts) > 1 and all(p.stat().st_size <= 4096 for p in parts) and written[-1].name == SMALL_FILES_ARCHIVE
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)  # no staging left
    folder = assemble(tmp_path / "out", tmp_path / "back")
    assert (folder / "train_log.jsonl").read_text() == '{"step": 1}\n'
    texts = ["the pen is red"]
    assert (Encoder.load(folder, precision="float32").encode(texts) @ Encoder.load(tiny_checkpoint, precision="float32").encode(texts).T) > 0.999
    assert PART_BYTES <= 16 * 1024 * 1024


def test_assembling_without_parts_is_an_error(tmp_path, tiny_checkpoint):
    export(tiny_checkpoint, [], tmp_path / "out")
    for part in (tmp_path / "out").glob("*.part*"):
        part.unlink()
    with pytest.raises(FileNotFoundError, match="no model.safetensors.part"):
        assemble(tmp_path / "out", tmp_path / "back")

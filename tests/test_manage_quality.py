"""`manage.py quality` as an operator runs it: add, list, run, history, and the mistakes it refuses."""

from __future__ import annotations

import json

import pytest

import manage
from indexer.ingest import IndexConfig, index_paths
from indexer.search_index import open_for_writing

QUERIES = {"q1": "cat on the mat", "q2": "flood in a valley"}


@pytest.fixture
def beir(tmp_path):
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "The cat sat on the mat."}\n'
                                         '{"_id": "d2", "text": "The river flooded the valley."}\n')
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return folder


def quality(instance, *args):
    return manage.main(["--instance", str(instance), "quality", *args])


def test_add_run_list_and_history(tmp_path, tiny_checkpoint, beir, capsys):
    instance = tmp_path / "instance"
    with open_for_writing(instance, model=tiny_checkpoint) as index:
        index_paths(index, [beir], IndexConfig(format="beir", collection="toy"))
    assert quality(instance, "add", "toy-set", "--collection", "toy", "--beir", str(beir)) == 0
    assert "2 judged queries for collection 'toy'" in capsys.readouterr().out
    assert quality(instance, "run", "toy-set", "--mode", "lexical", "--quiet") == 0
    table = capsys.readouterr().out
    assert "lexical (run 1)" in table and "| 100.00 |" in table  # two queries, each with its one word-for-word match
    assert quality(instance, "list") == 0
    assert "toy-set lexical" in capsys.readouterr().out
    assert quality(instance, "history", "toy-set") == 0
    assert "done 2/2" in capsys.readouterr().out


def test_mistakes_are_one_line_and_status_2(tmp_path, beir, capsys):
    instance = tmp_path / "instance"
    assert quality(instance, "list") == 2
    assert "no such instance folder" in capsys.readouterr().err
    instance.mkdir()
    (beir / "bad.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\n")
    cases = [
        (["add", "s", "--collection", "toy", "--queries", str(beir / "queries.jsonl"), "--qrels", str(beir / "bad.tsv")], "bad.tsv, line 2"),
        (["add", "s", "--collection", "toy", "--queries", str(beir / "queries.jsonl")], "--queries needs --qrels"),
        (["add", "s", "--collection", "toy", "--beir", str(beir), "--split", "dev"], "dev.tsv"),
        (["add", "s", "--collection", "no such", "--beir", str(beir)], "collection name"),
        (["run", "nope"], "no labelled set named 'nope'"),
        (["history", "nope"], "no labelled set named 'nope'"),
    ]
    for args, message in cases:
        assert quality(instance, *args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error:") and message in err and "Traceback" not in err, (args, err)
    assert quality(instance, "list") == 0
    assert "no labelled sets yet" in capsys.readouterr().out

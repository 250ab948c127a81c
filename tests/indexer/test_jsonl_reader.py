"""JSON-lines and BEIR collections: one object a line, each bad line named by its number and skipped."""

import gzip
import json

import pytest

from indexer.readers import Record
from input_files import GOOD, read, write


def test_jsonl_records_with_metadata_and_integer_ids(tmp_path):
    path = write(
        tmp_path / "docs.jsonl",
        '{"id": 7, "title": "Seven", "text": "Body.", "lang": "en", "tags": ["a"]}\n'
        "\n"
        '{"id": "x", "text": "No title.", "title": null}\n',
    )
    records, bad = read(path)
    assert bad == []
    assert records == [
        Record("7", "Seven", "Body.", {"lang": "en", "tags": ["a"]}, f"{path}:1"),
        Record("x", "", "No title.", {}, f"{path}:3"),
    ]


@pytest.mark.parametrize(
    "line, reason",
    [
        (b'{"id": "a", "text": ', "invalid JSON: Expecting value at column 21"),
        (b"[1, 2]", "not a JSON object but array"),
        (b'{"id": "a"}', 'missing "text"'),
        (b'{"id": "a", "text": " \\n "}', 'empty "text"'),
        (b'{"id": "a", "text": 5}', '"text" must be a string, not integer'),
        (b'{"id": "a", "text": "t", "title": ["x"]}', '"title" must be a string, not array'),
        (b'{"id": 1.5, "text": "t"}', '"id" must be a string or integer, not number'),
        (b'{"id": true, "text": "t"}', '"id" must be a string or integer, not boolean'),
        (b'{"text": "t"}', 'missing "id"'),
        (b'{"id": "", "text": "t"}', 'empty "id"'),
        (b'{"id": "a", "text": "caf\xe9"}', "not valid UTF-8 (byte 0xe9 at column 25)"),
    ],
)
def test_each_bad_jsonl_record_is_named_and_skipped(tmp_path, line, reason):
    path = write(tmp_path / "docs.jsonl", GOOD.encode() + b"\n" + line + b"\n" + GOOD.encode() + b"\n")
    records, bad = read(path)
    assert bad == [f"{path}:2: {reason}"]
    assert [r.origin for r in records] == [f"{path}:1", f"{path}:3"]


def test_gzipped_jsonl(tmp_path):
    path = tmp_path / "docs.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(f"{GOOD}\nnot json\n")
    records, bad = read(path)
    assert [r.text for r in records] == ["A fine document."]
    assert bad == [f"{path}:2: invalid JSON: Expecting value at column 1"]


def test_beir_corpus_merges_its_metadata_object(tmp_path):
    folder = tmp_path / "scifact"
    rows = [
        {"_id": "d1", "title": "T", "text": "Claim text.", "metadata": {"url": "u", "year": 2020}},
        {"_id": 2, "title": "", "text": "Other.", "metadata": {}},
    ]
    write(folder / "corpus.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    write(folder / "queries.jsonl", '{"_id": "q1", "text": "a query"}\n')
    corpus = folder / "corpus.jsonl"
    expected = [
        Record("d1", "T", "Claim text.", {"url": "u", "year": 2020}, f"{corpus}:1"),
        Record("2", "", "Other.", {}, f"{corpus}:2"),
    ]
    assert read(folder) == (expected, [])
    assert read(corpus, format="beir") == (expected, [])

"""Indexing through SearchIndex on both databases, with a tiny model."""

import json

import pytest
from sqlalchemy import select

from samples import SENTENCES
from indexer.ingest import IndexConfig, index_paths
from indexer.readers import InputError
from indexer.search_index import SearchIndex
from indexer.schema import Document
from indexer.validation import InvalidValue


def write_jsonl(path, docs):
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def corpus(count: int, long_every: int = 7) -> list[dict]:
    docs = []
    for i in range(count):
        text = " ".join(SENTENCES[i % 8:] + SENTENCES[: i % 8])
        if i % long_every == 0:
            text = " ".join([text] * 4)  # longer than the tiny model's 32 tokens: several chunks
        docs.append({"id": f"doc-{i}", "title": f"Title {i}", "text": text, "lang": "en"})
    return docs


@pytest.fixture
def index(tmp_path, database_url, tiny_checkpoint):
    return SearchIndex.open(tmp_path / "instance", database_url=database_url, model=tiny_checkpoint)


def test_index_then_rerun_changes_nothing(tmp_path, index):
    source = write_jsonl(tmp_path / "docs.jsonl", corpus(40))
    first = index_paths(index, [source], IndexConfig(batch_docs=16), show_progress=False)
    assert (first.read, first.added, first.unchanged, first.bad) == (40, 40, 0, 0)
    assert first.chunks > 40  # long documents were cut
    report = index.check()
    assert report.ok, report.problems
    assert report.documents == 40 and report.chunks == report.vectors == first.chunks
    version = index.version
    calls = []
    original = index.encoder.encode
    index.encoder.encode = lambda texts, **kw: calls.append(len(texts)) or original(texts, **kw)
    again = index_paths(index, [source], IndexConfig(batch_docs=16), show_progress=False)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 40, 0)
    assert calls == [] and index.check().ok and index.version == version + 1


def test_changed_documents_are_re_encoded_and_their_old_vectors_removed(tmp_path, index):
    docs = corpus(10)
    index_paths(index, [write_jsonl(tmp_path / "a.jsonl", docs)], IndexConfig(), show_progress=False)
    before = set(index.vectors.ids().tolist())
    docs[3]["text"] = "A completely new text about rivers and valleys."
    docs[4]["lang"] = "fr"  # metadata counts as content
    report = index_paths(index, [write_jsonl(tmp_path / "b.jsonl", docs)], IndexConfig(), show_progress=False)
    assert (report.updated, report.unchanged, report.added) == (2, 8, 0)
    after = set(index.vectors.ids().tolist())
    assert len(after - before) == report.chunks and len(before - after) >= 2
    assert index.check().ok


def test_collections_are_separate(tmp_path, index):
    source = write_jsonl(tmp_path / "a.jsonl", corpus(5))
    index_paths(index, [source], IndexConfig(collection="one"), show_progress=False)
    report = index_paths(index, [source], IndexConfig(collection="two"), show_progress=False)
    assert report.added == 5
    assert index.stats()["collections"] == {"one": 5, "two": 5}


def test_text_without_word_pieces_still_gets_a_passage(tmp_path, index):
    source = write_jsonl(tmp_path / "odd.jsonl", [{"id": "zw", "text": "\u200b\u200b"}, {"id": "ok", "text": "the pen is red"}])
    report = index_paths(index, [source], IndexConfig(), show_progress=False)
    assert (report.added, report.chunks) == (2, 2) and index.check().ok


def test_an_unreadable_bm25_index_neither_hides_the_vectors_nor_survives_the_next_writer(tmp_path, index, database_url):
    from indexer.search_index import open_for_writing

    index_paths(index, [write_jsonl(tmp_path / "docs.jsonl", corpus(6))], IndexConfig(), show_progress=False)
    chunks = len(index.vectors)
    saved = json.loads((index.folder / "vectors.json").read_text())
    for path in (index.folder / saved["lexical"]).rglob("*.*"):
        path.unlink()  # as if written by another format, or removed
    reader = SearchIndex.open(index.folder, database_url=database_url, mmap=True)
    assert len(reader.vectors) == chunks and len(reader.lexical) == len(reader.document_lexical) == 0
    assert not reader.check().ok
    reader.close()
    with open_for_writing(index.folder, database_url=database_url) as writer:
        writer.delete(["doc-0"], "default")
        report = writer.check()
    assert report.ok, report.problems
    assert report.vectors == report.chunks > 0 and report.documents == 5


def test_records_built_in_code_meet_the_same_rules(index):
    from indexer.ingest import index_records
    from indexer.readers import Record

    records = [
        Record("fine", "T\x00itle", "Good text\x07 with a lone \ud800 surrogate.", {"k\x00": "v"}, "code:1"),
        Record("bad\x00id", "", "Some text.", {}, "code:2"),
        Record("x" * 600, "", "Some text.", {}, "code:3"),
        Record("none", "", None, {}, "code:4"),  # type: ignore[arg-type]
        Record("nan", "", "Some text.", {"score": float("nan")}, "code:5"),
        Record("long", "", "word " * 30, {}, "code:6"),
        Record("after", "", "The pen is red.", {}, "code:7"),
    ]
    report = index_records(index, records, IndexConfig(max_document_chars=100))
    assert (report.read, report.added, report.bad) == (2, 2, 5)
    assert [message.split(": ")[0] for message in report.bad_examples] == [f"code:{n}" for n in (2, 3, 4, 5, 6)]
    assert "the text has 150 characters; the limit is 100 (--max-chars)" in report.bad_examples[-1]
    with index.store.session() as session:
        stored = session.execute(select(Document.title, Document.text, Document.meta).where(Document.external_id == "fine")).one()
    assert stored == ("Title", "Good text with a lone \ufffd surrogate.", {"k": "v"})
    assert index.check().ok
    with pytest.raises(InputError, match="code:2: the id holds a control character"):
        index_records(index, records, IndexConfig(strict=True))


@pytest.mark.parametrize("name", ["a/b", "", "-x", "x" * 65])
def test_a_bad_collection_name_is_refused_before_anything_is_written(tmp_path, name):
    with pytest.raises(InvalidValue, match="collection name"):
        IndexConfig(collection=name)
    with pytest.raises(ValueError, match="at least 1 character"):
        IndexConfig(max_document_chars=0)


def test_the_size_limit_reaches_the_readers(tmp_path, index):
    source = write_jsonl(tmp_path / "docs.jsonl", [{"id": "short", "text": "the pen"}, {"id": "long", "text": "the pen is red " * 10}])
    report = index_paths(index, [source], IndexConfig(max_document_chars=50), show_progress=False)
    assert (report.added, report.bad) == (1, 1)
    assert report.bad_examples == [f"{source}:2: the text has 150 characters; the limit is 50 (--max-chars)"]


def test_batches_end_at_a_budget_of_characters(monkeypatch):
    from indexer import ingest
    from indexer.readers import Record

    monkeypatch.setattr(ingest, "BATCH_CHARS", 10)
    records = [Record(str(i), "", "x" * size, {}, "o") for i, size in enumerate([4, 4, 4, 20, 1, 1])]
    assert [[r.external_id for r in batch] for batch in ingest._batched(records, 5)] == [["0", "1", "2"], ["3"], ["4", "5"]]


def test_a_run_over_an_empty_input_still_creates_its_collection(tmp_path, index):
    report = index_paths(index, [write_jsonl(tmp_path / "empty.jsonl", [])], IndexConfig(collection="fresh"), show_progress=False)
    assert report.read == 0 and index.stats()["collections"] == {"fresh": 0} and index.check().ok

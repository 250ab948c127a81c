"""What an upsert computes before it writes: content hashes, the changed records, their passages and
vectors, with the tiny model."""

from __future__ import annotations

import numpy as np

from encoder import Encoder
from indexer import passages
from indexer.passages import changed, content_hash, cut_passages, document_versions
from indexer.readers import Record
from samples import SENTENCES


def test_content_hash_never_raises():
    assert content_hash(Record("a", "\ud800", "text \udfff", {"k": "\ud83d"}, "o")) != content_hash(Record("a", "", "text", {}, "o"))
    assert content_hash(Record("a", "t", "é", {}, "o")) == content_hash(Record("b", "t", "é", {}, "elsewhere"))


def test_only_records_whose_content_differs_are_changed():
    same, other, new = (Record(i, "T", "text", {"k": 1}, "o") for i in ("same", "other", "new"))
    stored = {"same": (1, content_hash(same)), "other": (2, content_hash(Record("other", "T", "text", {"k": 2}, "o")))}
    assert [(r.external_id, digest) for r, digest in changed([same, other, new], stored)] == [
        ("other", content_hash(other)), ("new", content_hash(new))]


def test_passages_leave_room_for_the_title_and_every_text_gets_one(tiny_checkpoint, monkeypatch):
    encoder = Encoder.load(tiny_checkpoint)
    records = [Record("long", "T", " ".join(SENTENCES), {}, "o"), Record("zw", "", "\u200b\u200b", {}, "o")]
    long, blank = cut_passages(records, encoder, overlap_tokens=0)
    assert all(p.text == records[0].text[p.start:p.end] for p in long)
    monkeypatch.setattr(passages, "TITLE_TOKENS", 0)
    assert len(long) > len(cut_passages(records, encoder, overlap_tokens=0)[0]) > 1  # shorter passages with the title's room
    assert [(p.text, p.start, p.end) for p in blank] == [("\u200b\u200b", 0, 2)]  # no word piece, still findable


def test_document_versions_keep_the_stored_keys_and_encode_in_bounded_groups(tiny_checkpoint, monkeypatch):
    monkeypatch.setattr(passages, "ENCODE_PASSAGES", 3)
    encoder = Encoder.load(tiny_checkpoint)
    records = [Record("old", "Title", " ".join(SENTENCES[:4]), {}, "o"), Record("new", "", SENTENCES[5], {"n": 1}, "o")]
    progress = []
    documents, vectors = document_versions([(r, content_hash(r)) for r in records], {"old": (7, "stale")}, encoder,
                                           overlap_tokens=0, batch_size=2, on_encoded=lambda count, of: progress.append((count, of)))
    assert [(d.key, d.external_id, d.content_hash) for d in documents] == [(7, "old", content_hash(records[0])), (None, "new", content_hash(records[1]))]
    total = sum(len(d.passages) for d in documents)
    assert vectors.shape == (total, encoder.dim) and total > 3
    assert sum(count for count, _ in progress) == total and {of for _, of in progress} == {total}
    first = documents[0].passages[0]
    np.testing.assert_allclose(vectors[0], encoder.encode([f"Title\n{first.text}"])[0], atol=1e-5)  # encoded with its title

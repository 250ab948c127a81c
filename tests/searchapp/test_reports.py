"""What the operator's commands print, from the reports they get."""

from __future__ import annotations

import numpy as np

from encoder import Encoder
from indexer.ingest import IndexReport
from indexer.inspection import CheckReport
from searchapp.reports import REPAIR_HINT, check_summary, encode_report, index_summary


def test_index_summary_counts_and_speed():
    report = IndexReport(read=300, added=200, updated=50, unchanged=40, bad=10, chunks=900, seconds=2.0)
    assert index_summary(report) == "read 300: 200 added, 50 updated, 40 unchanged, 10 bad; 900 chunks; 2.0s (150 docs/s)"
    assert index_summary(IndexReport()).endswith("0.0s (0 docs/s)")


def test_check_summary_lists_problems_and_says_how_to_repair():
    sound = CheckReport(documents=2, chunks=3, vectors=3, missing=0, orphans=0, empty_documents=0, version_matches=True, lexical_matches=True)
    assert check_summary(sound) == "2 documents, 3 chunks, 3 vectors\nok"
    broken = CheckReport(documents=2, chunks=3, vectors=1, missing=2, orphans=0, empty_documents=0, version_matches=True,
                         lexical_matches=True, problems=["2 chunks without a vector", "vectors.faiss: missing"])
    assert check_summary(broken).splitlines() == ["2 documents, 3 chunks, 1 vectors", "problem: 2 chunks without a vector",
                                                  "problem: vectors.faiss: missing", REPAIR_HINT]


def test_encode_report_shows_each_vector_and_their_similarities(tiny_checkpoint):
    encoder = Encoder.load(tiny_checkpoint)
    texts = ["the pen is red", "a cat sat"]
    lines = encode_report(tiny_checkpoint, encoder, texts, encoder.encode(texts)).splitlines()
    assert lines[0].startswith(f"model {tiny_checkpoint}: dim 32, max length 32, pooling mean, compute ")
    assert lines[1].startswith("[0] norm 1.0000  [") and lines[1].endswith("...]  'the pen is red'")
    assert lines[3] == "cosine similarities:" and lines[4].startswith("[0]  1.000 ") and len(lines) == 6
    one = encode_report(tiny_checkpoint, encoder, ["x"], np.eye(1, 32, dtype=np.float32))
    assert "cosine" not in one and "[+1.0000 +0.0000" in one

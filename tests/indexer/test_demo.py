"""The bundled demo files (demo/SOURCES.md), as scripts/make_demo_corpus.py writes them, and the
demo builder that indexes them."""

import gzip
import json
import re

import pytest

from indexer.demo import DEMO_FOLDER, SUFFIX, build_demo
from samples import SENTENCES


@pytest.mark.parametrize("name, documents", [("wikipedia", 2000), ("scifact", 1000)])
def test_demo_files_hold_their_documents_unescaped(name, documents):
    """Regression: Wikipedia titles kept WikiExtractor's escapes ("1/2 &amp; 1/2"), shown literally."""
    with gzip.open(DEMO_FOLDER / f"{name}{SUFFIX}", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    assert len(records) == len({r["id"] for r in records}) == documents
    escaped = [r["id"] for r in records if re.search(r"&(amp|lt|gt|quot|apos|#39);", r["title"] + r["text"])]
    assert escaped == []


def test_demo_indexes_each_file_as_a_collection_once(tmp_path, tiny_checkpoint):
    folder = tmp_path / "demo"
    folder.mkdir()
    for name, texts in {"notes": SENTENCES[:5], "more": SENTENCES[5:]}.items():
        with gzip.open(folder / f"{name}{SUFFIX}", "wt") as out:
            out.writelines(json.dumps({"id": str(i), "title": name, "text": t, "source": "test"}) + "\n" for i, t in enumerate(texts))
    reports = build_demo(tmp_path / "instance", None, tiny_checkpoint, folder=folder, show_progress=False)
    assert {name: r.added for name, r in reports.items()} == {"more": 3, "notes": 5}
    assert build_demo(tmp_path / "instance", None, tiny_checkpoint, folder=folder, show_progress=False) == {}

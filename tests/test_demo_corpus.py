"""The bundled demo files (demo/SOURCES.md), as scripts/make_demo_corpus.py writes them."""

import gzip
import json
import re
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "demo"


@pytest.mark.parametrize("name, documents", [("wikipedia", 2000), ("scifact", 1000)])
def test_demo_files_hold_their_documents_unescaped(name, documents):
    """Regression: Wikipedia titles kept WikiExtractor's escapes ("1/2 &amp; 1/2"), shown literally."""
    with gzip.open(DEMO / f"{name}.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    assert len(records) == len({r["id"] for r in records}) == documents
    escaped = [r["id"] for r in records if re.search(r"&(amp|lt|gt|quot|apos|#39);", r["title"] + r["text"])]
    assert escaped == []

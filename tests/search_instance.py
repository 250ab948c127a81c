"""A small corpus in two collections, indexed with the tiny BERT: the instance the search service's
tests and the app's tests search (importable from any test folder; the `instance` fixture in
tests/conftest.py builds it)."""

from __future__ import annotations

from pathlib import Path

from indexer.ingest import IndexConfig, index_records
from indexer.readers import Record
from indexer.search_index import SearchIndex
from samples import SENTENCES

# A document long enough for several chunks of the tiny model (32 tokens), all about rivers.
LONG_TEXT = " ".join(["The river flooded the valley and the farmers moved their cattle."] * 12)


def corpus() -> dict[str, list[Record]]:
    """Collection -> records: one per sample sentence in "notes", plus a long document and a few
    with metadata in "library"."""
    notes = [Record(f"n{i}", f"Note {i}", text, {"kind": "note", "rank": i}, "test") for i, text in enumerate(SENTENCES)]
    library = [
        Record("long", "Floods", LONG_TEXT, {"kind": "book", "year": 2014}, "test"),
        Record("n0", "Same id, other collection", "A cat sat on the mat.", {"kind": "book"}, "test"),
        Record("cats", "Cats", "The cat sat on the mat and the cat slept.", {"kind": "book", "year": 2020}, "test"),
    ]
    return {"notes": notes, "library": library}


def build_instance(folder: Path, model: Path, database_url: str | None = None) -> Path:
    index = SearchIndex.open(folder, database_url=database_url, model=model)
    for collection, records in corpus().items():
        index_records(index, records, IndexConfig(collection=collection))
    index.close()
    return folder

"""An instance with a small corpus in two collections, indexed with the tiny BERT, and the app over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.ingest import IndexConfig, index_records
from indexer.jobs import apply_pending
from indexer.readers import Record
from indexer.search_index import SearchIndex, open_for_writing
from samples import SENTENCES
from searchapp import create_app

TOKEN = "s3cret-token"
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


@pytest.fixture
def instance(tmp_path: Path, tiny_checkpoint: Path, database_url: str) -> Path:
    return build_instance(tmp_path / "instance", tiny_checkpoint, database_url)


@pytest.fixture
def app(instance: Path, tiny_checkpoint: Path, database_url: str):
    return create_app({"INSTANCE": str(instance), "DATABASE_URL": database_url, "MODEL": str(tiny_checkpoint),
                       "API_TOKEN": TOKEN, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


def apply_queued(app) -> int:
    """Do the background writer's work now: apply the API writes queued so far."""
    config = app.config
    with open_for_writing(config["INSTANCE"], database_url=config["DATABASE_URL"], default_model=config["MODEL"]) as index:
        return apply_pending(index)

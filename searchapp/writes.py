"""Upserts and deletions from the API, through the same indexer code as `manage.py index`/`delete`.

A write takes the instance's write lock, opens the index from disk (so it starts from whatever the
last writer saved, in any process), changes it and saves a new version; every app process, this one
included, then picks that version up on its next request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager

from indexer.ingest import IndexConfig, IndexReport, index_records
from indexer.readers import Record
from indexer.search_index import SearchIndex, open_for_writing


def _writable_index(config: Mapping) -> AbstractContextManager[SearchIndex]:
    return open_for_writing(config["INSTANCE"], database_url=config["DATABASE_URL"], default_model=config["MODEL"])


def upsert_documents(config: Mapping, collection: str, records: Sequence[Record]) -> tuple[IndexReport, int]:
    """Add or replace `records` in `collection`; returns the counts and the new index version."""
    with _writable_index(config) as index:
        report = index_records(index, records, IndexConfig(collection=collection))
        return report, index.version


def delete_document(config: Mapping, external_id: str, collection: str) -> int:
    """Delete one document; returns the new index version."""
    with _writable_index(config) as index:
        index.delete([external_id], collection)
        return index.version

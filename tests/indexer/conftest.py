"""Database fixtures: every store test runs on SQLite and on PostgreSQL (skipped, with the reason
shown, only where no server answers at 127.0.0.1:5432)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_schema_url() -> str:
    """A fresh schema in the test database for this test, so concurrent runs never collide."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # no server, no database, no rights: all mean "cannot test here"
        pytest.skip(f"PostgreSQL not available at {POSTGRES}: {exc.__class__.__name__}")
    finally:
        engine.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", schema


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    url, schema = _postgres_schema_url()
    yield url
    engine = create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()

"""The app over the small search instance (tests/search_instance.py), and the background writer's work done on demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.jobs import apply_pending
from indexer.search_index import open_for_writing
from searchapp import create_app

TOKEN = "s3cret-token"


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

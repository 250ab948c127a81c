"""The per-process search service: opened lazily, once, and reused; its health as /api/health gives it."""

from __future__ import annotations

import torch

from searchapp import create_app
from searchapp.service import EXTENSION, health_report, open_now, search_service


def test_the_service_is_opened_on_first_use_and_then_reused(app):
    assert EXTENSION not in app.extensions  # create_app opens nothing: gunicorn forks after it
    with app.app_context():
        first = search_service()
        assert search_service() is first
    assert open_now(app) is first
    assert str(first.index.folder) == app.config["INSTANCE"]


def test_each_app_has_its_own_service(app, instance, tiny_checkpoint, database_url):
    other = create_app({"INSTANCE": str(instance), "DATABASE_URL": database_url, "MODEL": str(tiny_checkpoint)})
    assert open_now(other) is not open_now(app)


def test_init_app_sets_the_process_threads(instance, tiny_checkpoint, database_url):
    before = torch.get_num_threads()
    try:
        create_app({"INSTANCE": str(instance), "DATABASE_URL": database_url, "MODEL": str(tiny_checkpoint), "THREADS": 2})
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_health_report_of_a_sound_index(app):
    service = open_now(app)
    report = health_report(service)
    assert report["status"] == "ok" and report["problems"] == []
    assert report["chunks"] == len(service.index.vectors) > 0 and report["index_version"] == service.index.version
    assert report["model"] == service.index.model.name and report["dim"] == 32 and report["index_type"] == "flat"


def test_health_report_picks_up_a_newer_version(app, instance, database_url):
    from indexer.search_index import open_for_writing

    service = open_now(app)
    before = health_report(service)["index_version"]
    with open_for_writing(instance, database_url=database_url) as writer:
        writer.delete(["n1"], "notes")
    assert health_report(service)["index_version"] > before

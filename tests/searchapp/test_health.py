"""/api/health and searches over a damaged index: the service stays up, says it is degraded, and is
healthy again once a writer has repaired the files."""

from __future__ import annotations

import shutil

import pytest
from flask import Flask

import manage
from damage import CASE_IDS, CASES, damage
from indexer.search_index import open_for_writing

from conftest import TOKEN, apply_queued
from test_api import check_schema

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def found(client, query: str, mode: str) -> set[str]:
    response = client.get("/api/search", query_string={"q": query, "mode": mode, "k": 20})
    assert response.status_code == 200, response.data
    return {result["id"] for result in response.get_json()["results"]}


def test_a_sound_index_is_healthy(client):
    body = client.get("/api/health").get_json()
    check_schema(client, body, "Health")
    assert body["status"] == "ok" and body["problems"] == [] and body["chunks"] > 0


@pytest.mark.parametrize("target,kind", CASES, ids=CASE_IDS)
def test_a_fresh_process_over_a_damaged_index_serves_the_store_and_says_so(app, client, instance, target, kind):
    damage(instance, target, kind)  # before the first request: the process has no good copy in memory
    response = client.get("/api/health")
    body = response.get_json()
    check_schema(client, body, "Health")
    assert response.status_code == 200 and body["status"] == "degraded" and body["problems"] and body["chunks"] > 0
    assert found(client, "cattle", "lexical") == {"n6", "long"}  # rebuilt from the store, not empty
    assert "n3" in found(client, "A cat sat on the mat while the dog slept by the door.", "dense")
    assert {"n6", "long"} <= found(client, "cattle", "hybrid")

    added = client.post("/api/documents", json={"collection": "notes", "documents": [{"id": "z", "text": "Zebras graze."}]}, headers=AUTH)
    assert added.status_code == 202, added.data
    assert apply_queued(app) == 1  # the writer repaired the files before writing
    job = client.get(added.get_json()["status_url"], headers=AUTH).get_json()
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok" and body["problems"] == [] and body["index_version"] == job["result"]["index_version"]
    assert found(client, "zebras graze", "lexical") == {"z"}


def test_a_process_keeps_its_good_version_when_a_newer_one_is_damaged(client, instance, database_url):
    before = client.get("/api/health").get_json()
    assert before["status"] == "ok"
    with open_for_writing(instance, database_url=database_url) as writer:
        writer.delete(["n1"], "notes")
    damage(instance, "vectors.faiss", "random")
    body = client.get("/api/health").get_json()
    assert body["status"] == "degraded" and body["index_version"] == before["index_version"]
    assert any("vectors.faiss: checksum mismatch" in problem for problem in body["problems"])
    assert "n3" in found(client, "A cat sat on the mat while the dog slept by the door.", "dense")


def test_an_index_deleted_under_a_store_with_chunks_is_never_ok(client, instance):
    for name in ("vectors.faiss", "vectors.faiss.meta.json", "vectors.json"):
        (instance / name).unlink()
    for folder in instance.glob("lexical-*"):
        shutil.rmtree(folder)
    body = client.get("/api/health").get_json()
    assert body["status"] == "degraded" and "vectors.json: missing" in body["problems"][0]
    assert found(client, "cattle", "lexical") == {"n6", "long"}


def test_serve_over_a_damaged_index_starts(capsys, monkeypatch, instance, database_url, tiny_checkpoint):
    damage(instance, "vectors.faiss", "truncate")
    monkeypatch.setattr(Flask, "run", lambda self, **kwargs: None)
    status = manage.main(["--instance", str(instance), "--database", database_url, "serve", "--model", str(tiny_checkpoint)])
    captured = capsys.readouterr()
    assert status == 0 and "serving" in captured.out and "Traceback" not in captured.out + captured.err

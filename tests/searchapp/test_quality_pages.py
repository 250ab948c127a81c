"""The /quality pages over the small search instance: the token (Basic or Bearer), uploads, runs with
their progress, and the charts, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import json
import threading
import time

import pytest
from conftest import TOKEN

from indexer.quality import work_on_waiting_runs
from searchapp import create_app
from searchapp.service import search_service
from searchapp.writes import run_writer

BASIC = {"Authorization": "Basic " + base64.b64encode(f"anyone:{TOKEN}".encode()).decode()}
XSS = "<script>alert(1)</script>"
QUERIES = {"q1": f"cat on the mat {XSS}", "q2": "river flooded the valley"}
QRELS = "query-id\tcorpus-id\tscore\nq1\tcats\t2\nq2\tlong\t1\n"


def upload(client, name="library-set", queries=None, qrels=QRELS, headers=BASIC):
    body = "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in (queries or QUERIES).items())
    return client.post("/quality/sets", headers=headers, content_type="multipart/form-data", data={
        "name": name, "collection": "library",
        "queries": (io.BytesIO(body.encode()), "queries.jsonl"), "qrels": (io.BytesIO(qrels.encode()), "qrels.tsv")})


def run_in_background(app) -> int:
    """Do the background writer's quality work now."""
    with app.app_context():
        service = search_service()
        return work_on_waiting_runs(service.index.store, lambda: service, lambda: False)


def test_the_pages_need_the_token_as_basic_password_or_bearer(client):
    refused = client.get("/quality")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic ")
    assert "SEARCHAPP_API_TOKEN as password" in refused.get_data(as_text=True)
    wrong = base64.b64encode(b"anyone:guess").decode()
    assert client.get("/quality", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    assert client.get("/quality", headers={"Authorization": "Basic !!!"}).status_code == 401
    assert client.get("/quality", headers={"Authorization": "Bearer guess"}).status_code == 403
    assert client.get("/quality", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    page = client.get("/quality", headers=BASIC)
    assert page.status_code == 200 and "Add a labelled set" in page.get_data(as_text=True)
    elsewhere = upload(client, headers=BASIC | {"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403 and "another site" in elsewhere.get_data(as_text=True)


def test_without_a_token_the_pages_are_off_and_say_how_to_enable_them(instance, tiny_checkpoint, database_url):
    client = create_app({"INSTANCE": str(instance), "DATABASE_URL": database_url, "MODEL": str(tiny_checkpoint)}).test_client()
    page = client.get("/quality", headers=BASIC)
    assert page.status_code == 403 and "set SEARCHAPP_API_TOKEN" in page.get_data(as_text=True)


def test_an_upload_with_a_bad_line_says_which_and_adds_nothing(client):
    bad = upload(client, qrels="query-id\tcorpus-id\tscore\nq1\tcats\tvery\n")
    assert bad.status_code == 400
    assert "qrels.tsv, line 2: expected query-id" in bad.get_data(as_text=True)
    missing = client.post("/quality/sets", headers=BASIC, data={"name": "x", "collection": "library"})
    assert missing.status_code == 400 and "choose a queries.jsonl file" in missing.get_data(as_text=True)
    assert "No labelled set yet" in client.get("/quality", headers=BASIC).get_data(as_text=True)


def test_a_run_shows_its_progress_then_its_figures_and_charts(app, client):
    added = upload(client)
    assert added.status_code == 303 and added.headers["Location"].endswith("/quality/sets/library-set")
    assert client.post("/quality/sets/library-set/runs", headers=BASIC, data={}).status_code == 400  # no mode ticked
    started = client.post("/quality/sets/library-set/runs", headers=BASIC, data={"mode": ["lexical", "dense"]})
    assert started.status_code == 303
    waiting = client.get("/quality/runs/1", headers=BASIC).get_data(as_text=True)
    assert 'http-equiv="refresh"' in waiting and '<progress max="2" value="0">' in waiting and "queued" in waiting
    assert "Running" in client.get("/quality", headers=BASIC).get_data(as_text=True)

    assert run_in_background(app) == 2
    done = client.get("/quality/runs/1", headers=BASIC).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in done and '<progress max="2" value="2">' in done
    assert "/documents/library/cats" in done  # the worst queries link to their results
    history = client.get("/quality/sets/library-set", headers=BASIC)
    page = history.get_data(as_text=True)
    assert history.status_code == 200 and page.count("<svg") == 4  # three metrics over versions, one win/loss
    assert "<polyline" in page and 'class="series mode-lexical"' in page and "<rect" in page
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # a query's text in a bar's title
    assert "<script" not in page
    listed = client.get("/quality", headers=BASIC).get_data(as_text=True)
    assert "/quality/runs/1" in listed and "/quality/runs/2" in listed
    assert client.get("/quality/sets/library-set?a=2&b=1", headers=BASIC).status_code == 200


@pytest.mark.parametrize("path", ["/quality/sets/nope", "/quality/runs/99"])
def test_an_unknown_set_or_run_is_a_404(client, path):
    assert client.get(path, headers=BASIC).status_code == 404


def test_the_background_writer_measures_a_queued_run(app, client):
    stop = threading.Event()
    writer = threading.Thread(target=run_writer, args=(app.config["INSTANCE"], app.config["DATABASE_URL"], app.config["MODEL"], stop),
                              kwargs={"poll_seconds": 0.05})
    writer.start()
    try:
        upload(client)
        client.post("/quality/sets/library-set/runs", headers=BASIC, data={"mode": "hybrid"})
        deadline = time.monotonic() + 30
        while "done ·" not in (page := client.get("/quality/runs/1", headers=BASIC).get_data(as_text=True)):
            assert time.monotonic() < deadline, page
            time.sleep(0.1)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert "ndcg@10" in page and "index version" in page

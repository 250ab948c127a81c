"""What holds for every request and response whatever the route: settings from the environment,
security headers, the app's own URL and header limits, and the same limits behind a real gunicorn."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchapp import create_app
from searchapp.config import ConfigError
from searchapp.guards import SECURITY_HEADERS

from conftest import TOKEN
from search_instance import build_instance

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bare_app(tmp_path: Path, tiny_checkpoint: Path):
    """The app over an empty SQLite instance: enough for what happens before and after any route."""
    return create_app({"INSTANCE": str(tmp_path / "empty"), "MODEL": str(tiny_checkpoint), "API_TOKEN": TOKEN})


def assert_json_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json" and response.get_json()["error"]["code"] == code


# Settings from the environment.

@pytest.mark.parametrize("raw", ["true", "1e3", '"quoted"', "null", "0123", "{}", "p\u00e4ss w\u00f6rd"])
def test_the_api_token_is_read_verbatim(monkeypatch, raw):
    monkeypatch.setenv("SEARCHAPP_API_TOKEN", raw)
    assert create_app().config["API_TOKEN"] == raw


def test_the_token_is_usable_as_read(monkeypatch, tmp_path, tiny_checkpoint):
    monkeypatch.setenv("SEARCHAPP_API_TOKEN", "true")
    client = create_app({"INSTANCE": str(tmp_path / "empty"), "MODEL": str(tiny_checkpoint)}).test_client()
    body = {"documents": [{"id": "a", "text": "Some text."}]}
    assert client.post("/api/documents", json=body, headers={"Authorization": "Bearer True"}).status_code == 403
    assert client.post("/api/documents", json=body, headers={"Authorization": "Bearer true"}).status_code == 202  # queued
    # A non-ASCII token, as a server hands the header over (its UTF-8 bytes decoded as Latin-1).
    monkeypatch.setenv("SEARCHAPP_API_TOKEN", "p\u00e4ss")
    client = create_app({"INSTANCE": str(tmp_path / "empty"), "MODEL": str(tiny_checkpoint)}).test_client()
    as_served = "Bearer p\u00e4ss".encode().decode("latin-1")
    assert client.post("/api/documents", json=body, headers={"Authorization": as_served}).status_code == 202
    assert client.post("/api/documents", json=body, headers={"Authorization": "Bearer p\u00e4ss\u2603"}).status_code == 403


@pytest.mark.parametrize("raw", [" padded", "padded\n"])
def test_a_token_no_client_can_send_stops_the_start(monkeypatch, raw):
    monkeypatch.setenv("SEARCHAPP_API_TOKEN", raw)
    with pytest.raises(ConfigError, match="white space"):
        create_app()


def test_string_settings_are_verbatim_and_numbers_are_numbers(monkeypatch):
    monkeypatch.setenv("SEARCHAPP_INSTANCE", "123")
    monkeypatch.setenv("SEARCHAPP_DATABASE_URL", "null")
    monkeypatch.setenv("SEARCHAPP_MODEL", "[models]")
    monkeypatch.setenv("SEARCHAPP_MAX_K", "50")
    config = create_app().config
    assert (config["INSTANCE"], config["DATABASE_URL"], config["MODEL"]) == ("123", "null", "[models]")
    assert config["MAX_K"] == 50


@pytest.mark.parametrize("raw", ["lots", "1e3", "", "5.5"])
def test_a_number_that_is_not_one_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("SEARCHAPP_MAX_K", raw)
    with pytest.raises(ConfigError, match=f"SEARCHAPP_MAX_K={raw!r}: expected a whole number"):
        create_app()


def test_manage_py_reports_a_bad_setting_without_a_trace(monkeypatch, capsys):
    import manage

    monkeypatch.setenv("SEARCHAPP_THREADS", "many")
    assert manage.main(["serve", "--port", "1"]) == 2
    assert "SEARCHAPP_THREADS='many'" in capsys.readouterr().err


# Security headers.

@pytest.mark.parametrize("url", ["/", "/?q=river", "/api/health", "/api/search?q=", "/api/nothing", "/nothing",
                                 "/documents/notes/nope", "/static/style.css", "/api/openapi.json"])
def test_every_response_carries_the_security_headers(bare_app, url):
    response = bare_app.test_client().get(url)
    assert response.status_code < 500
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_server_error_carries_them_too(bare_app, monkeypatch):
    from indexer.search import SearchService

    monkeypatch.setattr(SearchService, "search", lambda *args, **kwargs: 1 / 0)
    response = bare_app.test_client().get("/api/search?q=x")
    assert response.status_code == 500 and response.headers["X-Content-Type-Options"] == "nosniff"


def test_markup_in_a_not_found_message_is_json_or_escaped(bare_app):
    client = bare_app.test_client()
    api = client.get("/api/documents/<script>alert(1)</script>")
    assert_json_error(api, 404, "not_found")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    ui = client.get("/documents/<script>alert(1)<%2Fscript>/x")  # an impossible collection, echoed
    assert ui.status_code == 404 and ui.mimetype == "text/html"
    html = ui.get_data(as_text=True)
    assert "&lt;script&gt;" in html and "<script>" not in html


def test_ui_lookups_no_document_can_match_are_404_without_the_database(bare_app, monkeypatch):
    from indexer.search import SearchService

    monkeypatch.setattr(SearchService, "document", lambda *args: pytest.fail("the database was asked"))
    client = bare_app.test_client()
    for url in ("/documents/scifact/a%00b", "/documents/a%00b/x", "/documents/notes/" + "x" * 600):
        response = client.get(url)
        assert response.status_code == 404 and response.mimetype == "text/html", url


# The app's own limits on URLs and headers.

def test_an_over_long_url_is_414_json_under_api_and_a_page_in_the_ui(bare_app):
    client = bare_app.test_client()
    response = client.get("/api/search?q=" + "a" * 9000)
    assert_json_error(response, 414, "uri_too_long")
    assert "the limit is 8,192" in response.get_json()["error"]["message"]
    page = client.get("/?q=" + "a" * 9000)
    assert page.status_code == 414 and page.mimetype == "text/html"
    # Percent-encoding counts as sent: 3,000 NULs are 9,000 bytes of URL.
    assert_json_error(client.get("/api/documents/" + "%00" * 3000), 414, "uri_too_long")


def test_over_large_headers_are_431_json(bare_app):
    client = bare_app.test_client()
    assert_json_error(client.get("/api/health", headers={"X-Big": "x" * 17_000}), 431, "headers_too_large")
    many = {f"X-Header-{i}": "y" * 200 for i in range(90)}
    assert_json_error(client.get("/api/health", headers=many), 431, "headers_too_large")
    assert client.get("/api/health", headers={"X-Fine": "x" * 8000}).status_code == 200


def test_the_limits_are_settings(tmp_path, tiny_checkpoint):
    app = create_app({"INSTANCE": str(tmp_path / "empty"), "MODEL": str(tiny_checkpoint), "MAX_URL_BYTES": 100})
    assert_json_error(app.test_client().get("/api/search?q=" + "a" * 100), 414, "uri_too_long")
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert "100 bytes" in spec["paths"]["/api/search"]["get"]["responses"]["414"]["description"]


# Behind gunicorn, whose own refusals are HTML.

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _request(port: int, path: str, headers: dict | None = None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@pytest.fixture
def gunicorn_port(tmp_path: Path, tiny_checkpoint: Path):
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)
    port = _free_port()
    env = os.environ | {"SEARCHAPP_INSTANCE": str(instance), "SEARCHAPP_MODEL": str(tiny_checkpoint)}
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", "1", "-b", f"127.0.0.1:{port}",
                                   "searchapp:create_app()"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _request(port, "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not serve: {log.read_text()}")
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gunicorn_lets_the_app_answer_over_long_urls_and_headers_in_json(gunicorn_port):
    status, content_type, body = _request(gunicorn_port, "/api/search?q=" + "a" * 10_000)
    assert (status, content_type) == (414, "application/json")
    assert json.loads(body)["error"]["code"] == "uri_too_long"
    status, content_type, body = _request(gunicorn_port, "/api/health", headers={"X-Big": "x" * 20_000})
    assert (status, content_type) == (431, "application/json")
    assert json.loads(body)["error"]["code"] == "headers_too_large"
    status, _, body = _request(gunicorn_port, "/api/search?q=cattle&mode=lexical")
    assert status == 200 and {r["id"] for r in json.loads(body)["results"]} == {"n6", "long"}

"""The JSON API: every route, every refusal, and responses that match the OpenAPI document."""

from __future__ import annotations

import json
import threading

import pytest
from jsonschema import Draft202012Validator

from searchapp import create_app
from searchapp.config import ConfigError, load_settings
from searchapp.writes import run_writer

from conftest import TOKEN, apply_queued

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def check_schema(client, payload: dict, schema: str) -> None:
    spec = client.get("/api/openapi.json").get_json()
    Draft202012Validator({"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}).validate(payload)


def assert_error(response, status: int, code: str, words: str) -> None:
    assert response.status_code == status, response.data
    assert response.is_json and response.get_json()["error"]["code"] == code
    assert words in response.get_json()["error"]["message"]
    assert b"Traceback" not in response.data


def test_search_returns_the_contract_shape(client):
    response = client.get("/api/search", query_string={"q": "cattle", "mode": "lexical", "k": 5})
    assert response.status_code == 200
    body = response.get_json()
    check_schema(client, body, "SearchResponse")
    assert body["query"] == "cattle" and body["mode"] == "lexical" and body["total"] == 2
    assert {r["id"] for r in body["results"]} == {"n6", "long"}
    first = body["results"][0]
    assert first["snippet"][first["highlights"][0][0]:first["highlights"][0][1]].lower() == "cattle"


def test_a_search_that_names_no_mode_is_in_the_search_mode_setting(app, client):
    """Hybrid unless the instance's settings say otherwise; the OpenAPI document and the UI's mode
    selector state the same default."""
    assert app.config["SEARCH_MODE"] == "hybrid"
    assert client.get("/api/search?q=cattle").get_json()["mode"] == "hybrid"
    assert client.get("/api/search?q=cattle&mode=").get_json()["mode"] == "hybrid"
    app.config["SEARCH_MODE"] = "lexical"
    assert client.get("/api/search?q=cattle").get_json()["mode"] == "lexical"
    assert client.get("/api/search?q=cattle&mode=dense").get_json()["mode"] == "dense"
    spec = client.get("/api/openapi.json").get_json()
    assert {p["name"]: p["schema"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}["mode"]["default"] == "lexical"
    page = client.get("/?q=cattle").get_data(as_text=True)
    assert '<option value="lexical" selected>' in page and '<option value="hybrid" selected>' not in page
    assert '<option value="dense" selected>' in client.get("/?q=cattle&mode=dense").get_data(as_text=True)


def test_search_filters_and_pages(client):
    books = client.get("/api/search?q=cat&mode=dense&k=20&filter.kind=book").get_json()
    assert books["results"] and {r["collection"] for r in books["results"]} == {"library"}
    notes = client.get("/api/search?q=cat&k=3&offset=3&collection=notes").get_json()
    everything = client.get("/api/search?q=cat&k=20&collection=notes").get_json()
    assert [r["id"] for r in notes["results"]] == [r["id"] for r in everything["results"][3:6]]
    assert notes["offset"] == 3 and notes["k"] == 3


def test_search_in_an_unknown_collection_is_404_naming_the_collections(client):
    response = client.get("/api/search?q=cat&collection=nope")
    assert_error(response, 404, "unknown_collection", "no collection named 'nope'; collections: library, notes")
    check_schema(client, response.get_json(), "Error")
    assert "404" in client.get("/api/openapi.json").get_json()["paths"]["/api/search"]["get"]["responses"]


@pytest.mark.parametrize("query, code, words", [
    ("", "empty_query", "empty"),
    ("q=%20%20", "empty_query", "empty"),
    ("q=" + "a" * 1001, "query_too_long", "1,001 characters"),
    ("q=cat&k=0", "invalid_parameter", "k must be a whole number from 1 to 100"),
    ("q=cat&k=101", "invalid_parameter", "k must be"),
    ("q=cat&k=ten", "invalid_parameter", "'ten'"),
    ("q=cat&offset=-1", "invalid_parameter", "offset must be"),
    ("q=cat&offset=1001", "invalid_parameter", "offset must be"),
    ("q=cat&mode=fuzzy", "invalid_parameter", "unknown mode 'fuzzy'"),
    ("q=cat&mode=lexical&bm25=words", "invalid_parameter", "unknown bm25 unit 'words': use one of document, passage"),
    ("q=cat&bm25=Document", "invalid_parameter", "unknown bm25 unit 'Document'"),
    ("q=cat&filter.=x", "invalid_parameter", "field name"),
    ("q=cat&mode=lexical&expand=maybe", "invalid_parameter", "expand must be true or false (or 1 or 0), not 'maybe'"),
])
def test_bad_search_parameters_are_400_json(client, query, code, words):
    assert_error(client.get(f"/api/search?{query}"), 400, code, words)


def test_expand_turns_query_expansion_on_or_off_the_last_value_counting(client):
    def found(query: str) -> set[str]:
        response = client.get(f"/api/search?q=cattle&k=100{query}")
        assert response.status_code == 200
        return {hit["id"] for hit in response.get_json()["results"]}
    plain, expanded = found("&mode=lexical"), found("&mode=lexical&expand=1")  # lexical: a keyword search unless asked
    assert plain == {"n6", "long"} and plain < expanded  # the feedback's words reach texts without "cattle"
    assert found("&mode=lexical&expand=0&expand=true") == expanded and found("&mode=lexical&expand=true&expand=0") == plain
    hybrid = client.get("/api/search?q=cattle&mode=hybrid&k=3").get_json()["results"]  # expanded by default
    assert [r["score"] for r in hybrid] != [r["score"] for r in client.get("/api/search?q=cattle&mode=hybrid&k=3&expand=0").get_json()["results"]]
    spec = {p["name"]: p for p in client.get("/api/openapi.json").get_json()["paths"]["/api/search"]["get"]["parameters"]}
    assert "false in lexical mode, true in hybrid mode" in spec["expand"]["description"]


def test_the_query_expansion_setting_names_when_searches_expand():
    assert load_settings(environ={"SEARCHAPP_QUERY_EXPANSION": "always"})["QUERY_EXPANSION"] == "always"
    assert load_settings(environ={})["QUERY_EXPANSION"] == "hybrid"
    with pytest.raises(ConfigError, match="QUERY_EXPANSION='off': expected one of hybrid, always, never"):
        load_settings({"QUERY_EXPANSION": "off"}, environ={})


def test_unknown_routes_and_methods_are_json_under_api(client):
    assert_error(client.get("/api/nothing"), 404, "not_found", "no such page")
    assert_error(client.put("/api/search"), 405, "method_not_allowed", "PUT")


def test_get_document(client):
    body = client.get("/api/documents/long").get_json()
    check_schema(client, body, "Document")
    assert body["title"] == "Floods" and body["metadata"] == {"kind": "book", "year": 2014}
    assert client.get("/api/documents/n0?collection=library").get_json()["title"] == "Same id, other collection"
    assert_error(client.get("/api/documents/n0"), 409, "ambiguous_id", "?collection=")
    assert_error(client.get("/api/documents/nope"), 404, "not_found", "'nope'")
    assert_error(client.get("/api/documents/long?collection=notes"), 404, "not_found", "in collection 'notes'")


def test_upsert_then_search_then_delete(app, client):
    payload = {"collection": "notes", "documents": [
        {"id": "z1", "title": "Zebras", "text": "Zebras graze on the savanna.", "metadata": {"kind": "animal"}},
        {"id": 7, "text": "Giraffes browse the tall trees.", "habitat": "savanna"}]}
    response = client.post("/api/documents", json=payload, headers=AUTH)
    assert response.status_code == 202, response.data
    queued = response.get_json()
    check_schema(client, queued, "Job")
    assert queued["status"] == "queued" and queued["documents"] == 2 and queued["kind"] == "upsert"
    assert queued["status_url"] == f"/api/jobs/{queued['job']}" == response.headers["Location"]
    assert client.get("/api/search?q=zebras&mode=lexical").get_json()["results"] == []  # queued, not applied yet
    assert client.get(queued["status_url"], headers=AUTH).get_json()["status"] == "queued"

    assert apply_queued(app) == 1
    done = client.get(queued["status_url"], headers=AUTH)
    assert done.status_code == 200
    body = done.get_json()
    check_schema(client, body, "Job")
    assert body["status"] == "done" and body["result"]["added"] == 2 and body["result"]["updated"] == 0
    assert body["result"]["chunks"] >= 2 and body["result"]["index_version"] >= 2
    found = client.get("/api/search?q=zebras&mode=lexical").get_json()["results"]
    assert [r["id"] for r in found] == ["z1"] and found[0]["metadata"] == {"kind": "animal"}
    assert client.get("/api/documents/7").get_json()["metadata"] == {"habitat": "savanna"}

    again = client.post("/api/documents", json=payload, headers=AUTH).get_json()
    apply_queued(app)
    assert client.get(again["status_url"], headers=AUTH).get_json()["result"]["unchanged"] == 2

    deleted = client.delete("/api/documents/z1", headers=AUTH)
    assert deleted.status_code == 202
    assert deleted.get_json()["kind"] == "delete" and deleted.get_json()["collection"] == "notes"
    apply_queued(app)
    body = client.get(deleted.get_json()["status_url"], headers=AUTH).get_json()
    check_schema(client, body, "Job")
    assert body["result"]["deleted"] == 1 and body["result"]["id"] == "z1"
    assert client.get("/api/search?q=zebras&mode=lexical").get_json()["results"] == []
    assert_error(client.delete("/api/documents/z1", headers=AUTH), 404, "not_found", "'z1'")
    assert_error(client.delete("/api/documents/n0", headers=AUTH), 409, "ambiguous_id", "several collections")


def test_wait_answers_with_the_result_once_the_writer_has_applied_it(app, client):
    stop = threading.Event()
    writer = threading.Thread(target=run_writer, args=(app.config["INSTANCE"], app.config["DATABASE_URL"], app.config["MODEL"], stop),
                              kwargs={"poll_seconds": 0.05})
    writer.start()
    try:
        response = client.post("/api/documents?wait=30", json={"documents": [{"id": "w", "text": "Walruses nap on ice."}]}, headers=AUTH)
        assert response.status_code == 200, response.data
        body = response.get_json()
        check_schema(client, body, "Job")
        assert body["status"] == "done" and body["result"]["added"] == 1
        removal = client.delete("/api/documents/w?wait=30", headers=AUTH).get_json()
        assert removal["status"] == "done" and removal["result"]["deleted"] == 1
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not writer.is_alive()


def test_a_write_is_accepted_while_another_writer_holds_the_lock(app, instance):
    from indexer.instance import write_lock

    answers = []
    request = threading.Thread(target=lambda: answers.append(app.test_client().post(
        "/api/documents", json={"documents": [{"id": "w", "text": "Walruses."}]}, headers=AUTH)))
    with write_lock(instance):  # as `manage.py index` holds it for its whole run
        request.start()
        request.join(timeout=20)  # the request used to wait for the lock, past gunicorn's timeout
        assert not request.is_alive() and answers[0].status_code == 202
    assert apply_queued(app) == 1


def test_without_a_writer_wait_gives_up_with_202(client):
    response = client.post("/api/documents?wait=0.2", json={"documents": [{"id": "w", "text": "Walruses."}]}, headers=AUTH)
    assert response.status_code == 202 and response.get_json()["status"] == "queued"
    job = client.get(f"{response.get_json()['status_url']}?wait=0.1", headers=AUTH)
    assert job.status_code == 200 and job.get_json()["status"] == "queued"


@pytest.mark.parametrize("wait", ["-1", "61", "soon", "nan", "inf"])
def test_a_bad_wait_is_400_and_queues_nothing(client, wait):
    response = client.post(f"/api/documents?wait={wait}", json={"documents": [{"id": "w", "text": "Walruses."}]}, headers=AUTH)
    assert_error(response, 400, "invalid_parameter", "wait must be a number of seconds from 0 to 60")
    assert_error(client.get(f"/api/jobs/1?wait={wait}", headers=AUTH), 400, "invalid_parameter", "wait")


def test_jobs_need_the_token_and_exist(client):
    job = client.post("/api/documents", json={"documents": [{"id": "w", "text": "Walruses."}]}, headers=AUTH).get_json()
    assert_error(client.get(job["status_url"]), 401, "unauthorized", "Bearer")
    assert_error(client.get(job["status_url"], headers={"Authorization": "Bearer nope"}), 403, "forbidden", "not valid")
    assert_error(client.get("/api/jobs/999999", headers=AUTH), 404, "not_found", "no job 999999")


def test_writes_need_the_right_token(client):
    body = {"documents": [{"id": "x", "text": "text"}]}
    assert_error(client.post("/api/documents", json=body), 401, "unauthorized", "Bearer")
    assert client.post("/api/documents", json=body).headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.post("/api/documents", json=body, headers={"Authorization": "Bearer wrong"}), 403, "forbidden", "not valid")
    assert_error(client.post("/api/documents", json=body, headers={"Authorization": f"Basic {TOKEN}"}), 401, "unauthorized", "Bearer")
    assert_error(client.delete("/api/documents/long"), 401, "unauthorized", "Bearer")
    assert_error(client.delete("/api/documents/long", headers={"Authorization": "Bearer nope"}), 403, "forbidden", "not valid")
    assert client.get("/api/documents/long").status_code == 200  # nothing was deleted


def test_without_a_configured_token_writes_are_disabled(instance, tiny_checkpoint, database_url):
    app = create_app({"INSTANCE": str(instance), "DATABASE_URL": database_url, "MODEL": str(tiny_checkpoint), "API_TOKEN": None})
    client = app.test_client()
    body = {"documents": [{"id": "x", "text": "text"}]}
    assert_error(client.post("/api/documents", json=body, headers=AUTH), 403, "writes_disabled", "SEARCHAPP_API_TOKEN")
    assert_error(client.delete("/api/documents/long", headers=AUTH), 403, "writes_disabled", "disabled")


@pytest.mark.parametrize("body, code, words", [
    (b"{not json", "invalid_json", "not valid JSON"),
    (b"\xff\xfe", "invalid_json", "not valid JSON"),
    (b"[1, 2]", "invalid_body", "JSON object"),
    (b'{"documents": []}', "invalid_body", "non-empty list"),
    (b'{"documents": {"id": 1}}', "invalid_body", "non-empty list"),
    (b'{"collection": "", "documents": [{"id": "a", "text": "t"}]}', "invalid_body", "collection"),
    (b'{"collection": "a/b", "documents": [{"id": "a", "text": "t"}]}', "invalid_body", "collection name 'a/b' is not valid"),
    (b'{"documents": [{"id": "a", "text": "fine"}, {"id": "b"}, 5, {"id": true, "text": "t"}]}', "invalid_document",
     '3 invalid document(s): documents[1]: missing "text"; documents[2]: must be an object; documents[3]: "id" must be a string or integer, not boolean'),
])
def test_malformed_upserts_are_400_and_write_nothing(client, body, code, words):
    response = client.post("/api/documents", data=body, headers=AUTH | {"Content-Type": "application/json"})
    assert_error(response, 400, code, words)
    assert_error(client.get("/api/documents/a"), 404, "not_found", "'a'")


def test_too_many_documents_and_oversize_bodies(instance, tiny_checkpoint, database_url):
    app = create_app({"INSTANCE": str(instance), "DATABASE_URL": database_url, "MODEL": str(tiny_checkpoint),
                      "API_TOKEN": TOKEN, "MAX_BATCH_DOCUMENTS": 2, "MAX_CONTENT_LENGTH": 2000})
    client = app.test_client()
    three = {"documents": [{"id": str(i), "text": "t"} for i in range(3)]}
    assert_error(client.post("/api/documents", json=three, headers=AUTH), 400, "too_many_documents", "the limit is 2")
    big = {"documents": [{"id": "big", "text": "x" * 5000}]}
    assert_error(client.post("/api/documents", data=json.dumps(big), headers=AUTH | {"Content-Type": "application/json"}),
                 413, "request_entity_too_large", "2,000 bytes")


def test_health(client):
    body = client.get("/api/health").get_json()
    check_schema(client, body, "Health")
    assert body["status"] == "ok" and body["chunks"] > len(body) and body["index_version"] >= 1


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    routes = {(rule.rule.replace("<path:document_id>", "{id}").replace("<int:job_id>", "{id}"), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == described
    limits = {p["name"]: p["schema"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert limits["k"]["maximum"] == app.config["MAX_K"] and limits["q"]["maxLength"] == app.config["MAX_QUERY_CHARS"]


def test_errors_inside_the_service_are_json_500_without_a_trace(app, client, monkeypatch):
    from indexer.search import SearchService

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(SearchService, "search", broken)
    app.testing = False  # let the handler answer as in production
    response = client.get("/api/search?q=cat")
    assert_error(response, 500, "internal_error", "log")
    assert b"disk on fire" not in response.data


def test_an_empty_instance_answers_with_no_results(tmp_path, tiny_checkpoint):
    app = create_app({"INSTANCE": str(tmp_path / "empty"), "MODEL": str(tiny_checkpoint), "API_TOKEN": TOKEN})
    client = app.test_client()
    for mode in ("dense", "lexical", "hybrid"):
        body = client.get(f"/api/search?q=anything&mode={mode}").get_json()
        assert body["results"] == [] and body["total"] == 0
    health = client.get("/api/health").get_json()
    assert health["chunks"] == 0
    assert "Search by meaning" in client.get("/").get_data(as_text=True)
    added = client.post("/api/documents", json={"documents": [{"id": "first", "text": "The first document."}]}, headers=AUTH)
    assert added.status_code == 202 and apply_queued(app) == 1
    result = client.get(added.get_json()["status_url"], headers=AUTH).get_json()["result"]
    assert result["added"] == 1 and result["index_version"] > health["index_version"]
    assert [r["id"] for r in client.get("/api/search?q=first&mode=lexical").get_json()["results"]] == ["first"]


def test_concurrent_writers_take_turns_and_lose_nothing(app, client, instance, database_url):
    from indexer.search_index import SearchIndex

    def post(name: str) -> None:
        documents = [{"id": f"{name}-{i}", "text": f"Parallel document {name} number {i}."} for i in range(3)]
        response = app.test_client().post("/api/documents", json={"collection": "parallel", "documents": documents}, headers=AUTH)
        assert response.status_code == 202, response.data

    def run(target, args) -> None:
        threads = [threading.Thread(target=target, args=a) for a in args]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    run(post, [("a",), ("b",), ("c",)])
    applied = []
    run(lambda: applied.append(apply_queued(app)), [(), ()])  # two writers: they take turns by the write lock
    assert sum(applied) == 3
    found = client.get("/api/search?q=parallel+document&mode=lexical&collection=parallel&k=20").get_json()
    assert sorted(r["id"] for r in found["results"]) == sorted(f"{n}-{i}" for n in "abc" for i in range(3))
    # Without the write lock each writer would save its own copy of the vector index and the last
    # would drop the others' vectors: the saved index must hold every stored chunk.
    index = SearchIndex.open(instance, database_url=database_url)
    report = index.check()
    index.close()
    assert report.ok, report.problems


# Hardening (issue 10): inputs that used to reach the database, or JSON, and fail there with a 500.

def test_a_lone_surrogate_in_text_is_stored_as_a_replacement_character(app, client):
    body = b'{"documents": [{"id": "s", "title": "t\\ud800", "text": "a\\ud800b", "metadata": {"k\\udfff": "v\\ud800"}}]}'
    response = client.post("/api/documents", data=body, headers=AUTH | {"Content-Type": "application/json"})
    assert response.status_code == 202, response.data
    assert apply_queued(app) == 1
    stored = client.get("/api/documents/s").get_json()
    assert (stored["text"], stored["title"], stored["metadata"]) == ("a\ufffdb", "t\ufffd", {"k\ufffd": "v\ufffd"})


@pytest.mark.parametrize("body, words", [
    (b"[" * 100_000 + b"]" * 100_000, "deeper than 32 levels"),
    (b'{"documents": [{"id": "a", "text": "t", "metadata": ' + b"[" * 40 + b"]" * 40 + b"}]}", "deeper than 32 levels"),
    (b'{"documents": [{"id": "a", "text": "t", "metadata": {"score": NaN}}]}', "NaN is not a JSON number"),
    (b'{"documents": [{"id": "a", "text": "t", "rank": -Infinity}]}', "-Infinity is not a JSON number"),
    (b'{"documents": [{"id": ' + b"9" * 5000 + b', "text": "t"}]}', "not valid JSON"),
    (b'{"documents": [{"id": "a", "text": "t"}], "x": "\\ud800\\\\"}' + b"\xff", "not valid JSON"),
])
def test_json_that_python_accepts_but_json_does_not_is_400(client, body, words):
    response = client.post("/api/documents", data=body, headers=AUTH | {"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_json", words)
    assert_error(client.get("/api/documents/a"), 404, "not_found", "'a'")


def test_nesting_within_the_limit_is_not_mistaken_for_deeper(app, client):
    # Brackets and quotes inside strings are not structure: only the metadata's own depth counts.
    metadata = {"note": 'a "quoted" [[[[ {{{{ \\" string', "deep": [[[[["five"]]]]]}
    response = client.post("/api/documents", json={"documents": [{"id": "d", "text": "Deep.", "metadata": metadata}]}, headers=AUTH)
    assert response.status_code == 202, response.data
    assert apply_queued(app) == 1
    assert client.get("/api/documents/d").get_json()["metadata"] == metadata


def test_numbers_json_cannot_carry_back_are_refused_naming_the_document(client):
    body = b'{"documents": [{"id": "a", "text": "t"}, {"id": "b", "text": "t", "metadata": {"big": 1e400}}]}'
    response = client.post("/api/documents", data=body, headers=AUTH | {"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_document", "documents[1]: metadata.big: inf is not a finite number")


def test_responses_are_strict_json_even_for_old_non_finite_values(app, client, monkeypatch):
    from indexer.search import SearchService
    from indexer.store import StoredDocument

    def stored(self, external_id, collection=None):  # as SQLite kept NaN before the rules
        return StoredDocument(1, external_id, "notes", "Old", "text", {"score": float("nan"), "ok": [1.5, float("inf")]})

    monkeypatch.setattr(SearchService, "document", stored)
    response = client.get("/api/documents/old")
    assert response.status_code == 200
    strict = json.loads(response.data, parse_constant=lambda name: pytest.fail(f"{name} in a response"))
    assert strict["metadata"] == {"score": None, "ok": [1.5, None]}


@pytest.mark.parametrize("document, words", [
    ({"id": "a\x00b", "text": "t"}, "documents[0]: the id holds a control character"),
    ({"id": "a\ud800", "text": "t"}, "documents[0]: the id holds a control character or a lone surrogate"),
    ({"id": "x" * 1025, "text": "t"}, "documents[0]: the id is longer than 512 bytes"),
    ({"id": "é" * 257, "text": "t"}, "documents[0]: the id is longer than 512 bytes"),
])
def test_ids_no_database_can_keep_are_refused(client, document, words):
    response = client.post("/api/documents", json={"documents": [document]}, headers=AUTH)
    assert_error(response, 400, "invalid_document", words)


@pytest.mark.parametrize("collection", ["a\x00b", "a/b", "x" * 65, " notes", "-dash", "", "ünï"])
def test_collections_that_break_the_rules_are_refused(client, collection):
    response = client.post("/api/documents", json={"collection": collection, "documents": [{"id": "a", "text": "t"}]}, headers=AUTH)
    assert_error(response, 400, "invalid_body", "collection name")
    assert_error(client.get("/api/documents/a"), 404, "not_found", "'a'")


def test_nul_and_control_characters_in_text_are_dropped(app, client):
    response = client.post("/api/documents", json={"collection": "notes", "documents": [
        {"id": "nul", "title": "Ti\x00tle", "text": "Null\x00 bytes\x07 here.", "metadata": {"k": "v\x00"}}]}, headers=AUTH)
    assert response.status_code == 202, response.data
    assert apply_queued(app) == 1
    stored = client.get("/api/documents/nul").get_json()
    assert (stored["title"], stored["text"], stored["metadata"]) == ("Title", "Null bytes here.", {"k": "v"})


@pytest.mark.parametrize("url", [
    "/api/documents/a%00b", "/api/documents/long?collection=a%00b", "/api/documents/long?collection=a/b",
    "/api/documents/" + "x" * 513, "/api/documents/%20%20", "/api/documents/a%09b",
])
def test_lookups_of_ids_no_document_can_have_are_404_without_the_database(client, monkeypatch, url):
    from indexer.search import SearchService

    monkeypatch.setattr(SearchService, "document", lambda *args: pytest.fail("the database was asked"))
    assert_error(client.get(url), 404, "not_found", "no such document")
    assert_error(client.delete(url, headers=AUTH), 404, "not_found", "no such document")


def test_the_query_is_cleaned_before_it_reaches_the_encoder(client):
    body = client.get("/api/search?q=river%00s%07%C2%85&mode=hybrid").get_json()
    assert body["query"] == "rivers"
    assert_error(client.get("/api/search?q=%00%01"), 400, "empty_query", "empty")
    assert_error(client.get("/api/search?q=cat&collection=a%00b"), 400, "invalid_parameter", "collection name")


def test_impossible_lookups_are_404_on_the_real_database(client):
    for url in ("/api/documents/a%00b", "/api/documents/long?collection=a%00b", "/api/documents/" + "x" * 1100):
        assert_error(client.get(url), 404, "not_found", "no such document")
        assert_error(client.delete(url, headers=AUTH), 404, "not_found", "no such document")
    page = client.get("/documents/scifact/a%00b")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert client.get("/documents/library/long").status_code == 200  # the check lets real ones through


def test_openapi_states_the_id_and_collection_rules(client):
    from jsonschema import ValidationError

    spec = client.get("/api/openapi.json").get_json()
    parameters = {p["name"]: p for p in spec["paths"]["/api/documents/{id}"]["get"]["parameters"]}
    collection = Draft202012Validator(parameters["collection"]["schema"])
    identifier = Draft202012Validator(parameters["id"]["schema"])
    for good in ("notes", "beir.scifact", "v2_0-final"):
        collection.validate(good)
    for bad in ("a/b", "a\x00b", "", "-x", "x" * 65):
        with pytest.raises(ValidationError):
            collection.validate(bad)
    identifier.validate("doc 7/é")
    with pytest.raises(ValidationError):
        identifier.validate("a\x00b")
    assert "512 bytes" in parameters["id"]["description"] and "404" in parameters["id"]["description"]
    responses = spec["paths"]["/api/documents"]["post"]["responses"]
    assert {"400", "401", "403", "413", "414", "431"} <= set(responses) and "NaN" in responses["400"]["description"]

""""Why this result?" through the app: GET /api/explain (its contract and refusals), the document page's
server-rendered explanation, and the results page's panel, which computes nothing until it is opened."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from indexer.ingest import IndexConfig, index_records
from indexer.readers import Record
from indexer.search_index import SearchIndex

from test_api import assert_error, check_schema

# Documents of one passage each (8 tokens of the tiny model) whose text and title are markup, entities and quotes.
ODD = {"s": "<script>cat", "e": '&amp; "cat"', "q": "'cat' </b>"}


@pytest.fixture
def odd_documents(instance, database_url):
    writer = SearchIndex.open(instance, database_url=database_url)
    index_records(writer, [Record(key, "<i>T</i>", text, {}, "test") for key, text in ODD.items()], IndexConfig(collection="odd"))
    writer.close()


def test_explain_returns_the_contract_shape(client):
    response = client.get("/api/explain", query_string={"q": "cattle in a flood", "id": "n6"})
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    check_schema(client, body, "Explanation")
    assert (body["id"], body["collection"], body["title"]) == ("n6", "notes", "Note 6")
    # The tiny model's passages are 8 tokens long: the explained one is the passage dense search ranks the
    # document by (which one that is, a random model decides by near-ties that differ between CPU paths).
    text = client.get("/api/documents/n6").get_json()["text"]
    assert body["text"] == "Note 6\n" + text[body["passage"][0]:body["passage"][1]]
    results = client.get("/api/search", query_string={"q": "cattle in a flood", "mode": "dense", "k": 20}).get_json()["results"]
    assert [r["passage"] for r in results if r["id"] == "n6"] == [body["passage"]]
    assert body["passage_start"] == len("Note 6\n")
    assert [word["text"] for word in body["query_words"]] == ["cattle", "flood"]
    assert all(body["text"][w["start"]:w["end"]] == w["text"] for w in body["passage_words"])
    assert all(len(word["matches"]) == 3 for word in body["query_words"])
    for word in body["query_words"]:
        similarities = [match["similarity"] for match in word["matches"]]
        assert similarities == sorted(similarities, reverse=True) and all(0 <= m["word"] < len(body["passage_words"]) for m in word["matches"])
    assert max(word["strength"] for word in body["passage_words"]) == max(m["strength"] for w in body["query_words"] for m in w["matches"])
    # The score is the cosine the dense search gave this document.
    hit = next(r for r in client.get("/api/search?q=cattle+in+a+flood&k=20&mode=dense").get_json()["results"] if r["id"] == "n6")
    assert body["score"] == pytest.approx(hit["score"], abs=1e-5) and body["passage"] == hit["passage"]


@pytest.mark.parametrize("query, status, code, words", [
    ("id=n6", 400, "empty_query", "empty"),
    ("q=%20&id=n6", 400, "empty_query", "empty"),
    ("q=" + "a" * 1001 + "&id=n6", 400, "query_too_long", "1,001 characters"),
    ("q=cat", 400, "invalid_parameter", "id="),
    ("q=cat&id=nope", 404, "not_found", "'nope'"),
    ("q=cat&id=n6&collection=library", 404, "not_found", "in collection 'library'"),
    ("q=cat&id=%01", 404, "not_found", "control character"),
    ("q=cat&id=n6&collection=no/such", 404, "not_found", "not valid"),
    ("q=cat&id=n0", 409, "ambiguous_id", "?collection="),
])
def test_explain_refusals_are_json(client, query, status, code, words):
    response = client.get(f"/api/explain?{query}")
    assert_error(response, status, code, words)
    check_schema(client, response.get_json(), "Error")
    assert str(status) in client.get("/api/openapi.json").get_json()["paths"]["/api/explain"]["get"]["responses"]


def test_an_ambiguous_id_is_explained_in_the_collection_named(client):
    body = client.get("/api/explain?q=cat&id=n0&collection=library").get_json()
    assert body["collection"] == "library" and body["text"].startswith("Same id, other collection\n")


def test_a_long_query_is_aligned_as_far_as_the_model_reads(client):
    body = client.get("/api/explain", query_string={"q": "cattle " * 100, "id": "n6"}).get_json()
    assert body["truncated"] and len(body["query_words"]) == 30  # 32 tokens with [CLS] and [SEP]


def test_the_document_page_shows_the_explanation_the_api_gives(client):
    body = client.get("/api/explain?q=cattle+in+a+flood&id=n6").get_json()
    html = client.get("/documents/notes/n6?q=cattle+in+a+flood").get_data(as_text=True)
    why = html[html.index('<section class="why"'):html.index("</section>")]
    text = why[why.index('<p class="why-text">') + len('<p class="why-text">'):why.index("</p>", why.index('<p class="why-text">'))]
    assert re.sub(r"</?mark[^>]*>", "", text) == str(escape(body["text"]))  # the title too: it was encoded with the passage
    shaded = [(w["text"], w["shade"]) for w in body["passage_words"] if w["shade"]]
    assert re.findall(r'<mark class="shade-(\d)">([^<]*)</mark>', text) == [(str(level), word) for word, level in shaded]
    rows = re.findall(r'<th scope="row">([^<]*)</th><td>(.*?)</td>', why)
    assert [word for word, _ in rows] == [w["text"] for w in body["query_words"]] == ["cattle", "flood"]
    for (_, cells), word in zip(rows, body["query_words"]):
        assert re.findall(r'<mark class="shade-(\d)">([^<]*)</mark> (-?\d\.\d\d)', cells) == [
            (str(m["shade"]), body["passage_words"][m["word"]]["text"], f"{m['similarity']:.2f}") for m in word["matches"]]
    assert '<section class="why"' not in client.get("/documents/notes/n6").get_data(as_text=True)  # no query, nothing to explain


def test_the_results_page_offers_the_panel_without_computing_it(client, monkeypatch):
    monkeypatch.setattr("indexer.explain.explain", lambda *args: pytest.fail("the search computed an explanation"))
    monkeypatch.setattr("searchapp.api.explain", lambda *args: pytest.fail("the search computed an explanation"))
    monkeypatch.setattr("searchapp.ui.explain", lambda *args: pytest.fail("the search computed an explanation"))
    html = client.get("/?q=cattle&collection=notes").get_data(as_text=True)
    panels = re.findall(r'<details class="why" data-explain="([^"]+)">\s*<summary>Why this result\?</summary>\s*'
                        r'<div class="why-body"><p><a href="([^"]+)">', html)
    assert len(panels) == html.count('<li class="result">') > 0
    api_url, page_url = (url.replace("&amp;", "&") for url in panels[0])
    assert api_url.startswith("/api/explain?q=cattle&id=") and "&collection=notes" in api_url
    assert page_url.startswith("/documents/notes/") and page_url.endswith("#why") and "q=cattle" in page_url
    assert '<script src="/static/explain.js" defer></script>' in html


def test_the_script_is_served_and_allowed_by_the_policy(client):
    response = client.get("/static/explain.js")
    assert response.status_code == 200 and "javascript" in response.mimetype
    assert "textContent" in response.get_data(as_text=True) and "innerHTML" not in response.get_data(as_text=True)
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'self' covers it


@pytest.mark.parametrize("document", sorted(ODD))
def test_every_token_is_escaped(client, odd_documents, document):
    query = '<script> cat &amp; "quoted"'
    body = client.get("/api/explain", query_string={"q": query, "id": document}).get_json()
    assert body["text"] == "<i>T</i>\n" + ODD[document]  # JSON carries the text as it is
    assert [word["text"] for word in body["query_words"]] == ["script", "cat", "amp", "quoted"]  # split as BERT splits them
    html = client.get(f"/documents/odd/{document}", query_string={"q": query}).get_data(as_text=True)
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    why = html[html.index('<section class="why"'):html.index("</section>")]
    assert str(escape(body["text"])) in re.sub(r"</?mark[^>]*>", "", why)
    assert all(f'<th scope="row">{word}</th>' in why for word in ("script", "cat", "amp", "quoted"))
    results = client.get("/", query_string={"q": query, "collection": "odd"}).get_data(as_text=True)
    assert "<script>" not in results and "<b>" not in results and results.count('<details class="why"') == 3

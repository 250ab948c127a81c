"""The web UI through the Flask test client: states of the search page, the document page, escaping."""

from __future__ import annotations

import re

import pytest

from indexer.ingest import IndexConfig, index_records
from indexer.readers import Record
from indexer.search_index import SearchIndex

XSS = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_empty_state_offers_examples_and_the_collections(client):
    html = page(client, "/")
    assert "Search by meaning" in html and 'name="q"' in html
    assert '<option value="library"' in html and '<option value="notes"' in html
    assert all(f'value="{mode}"' in html for mode in ("dense", "lexical", "hybrid"))
    assert "Type something to search" not in html  # a bare / is the home page, not a mistake


@pytest.mark.parametrize("url", ["/?q=", "/?q=%20%20&mode=lexical"])
def test_a_form_sent_empty_says_so(client, url):
    html = page(client, url)
    assert 'role="status">Type something to search' in html
    assert "Search by meaning" in html and "Results" not in html


def test_results_with_highlights_relevance_and_metadata(client):
    html = page(client, "/?q=cattle&mode=lexical")
    assert "Results 1–2 of 2" in html and "lexical" in html
    assert "<mark>cattle</mark>" in html
    assert "<dt>kind</dt><dd>book</dd>" in html  # one result per collection: nothing is shared
    assert 'href="/documents/library/long?q=cattle&amp;mode=lexical&amp;passage=' in html
    assert '<option value="lexical" selected>' in html
    # Relevance relative to the top result, the raw score (BM25 here) only in a tooltip.
    relevances = [int(x) for x in re.findall(r'</meter> (\d+)%', html)]
    assert relevances[0] == 100 and len(relevances) == 2 and relevances[1] <= 100
    assert re.search(r'title="BM25 \d+\.\d{3}; relevance is relative to the top result"', html)


def test_metadata_the_same_on_every_result_is_shown_once(client):
    html = page(client, "/?q=the&collection=notes&k=3")
    assert html.count("Every <span class=\"collection\">notes</span> result here") == 1
    assert html.count("<dt>kind</dt><dd>note</dd>") == 1  # every note has kind=note
    assert html.count("<dt>rank</dt>") == 3  # which differs from note to note


def test_relevance_on_later_pages_is_relative_to_the_first_result(client):
    pages = [page(client, f"/?q=cat+mat&mode=lexical&k=1&offset={offset}") for offset in range(3)]
    relevances = [int(re.search(r'</meter> (\d+)%', html).group(1)) for html in pages]
    assert relevances[0] == 100 and relevances[1] < 100 and relevances == sorted(relevances, reverse=True)


def test_an_unknown_collection_is_named_with_status_404(client):
    html = page(client, "/?q=cat&collection=nope", status=404)
    assert 'role="alert">no collection named &#39;nope&#39;; collections: library, notes</p>' in html
    assert '<select name="collection"' in html and '<option value="notes"' in html  # pick one from here


def test_no_results_state(client):
    html = page(client, "/?q=zyzzyva&mode=lexical")
    assert "No results" in html and "<strong>zyzzyva</strong>" in html


def test_a_bad_parameter_is_shown_with_status_400(client):
    html = page(client, "/?q=cat&k=5000", status=400)
    assert 'role="alert"' in html and "k must be a whole number" in html


def test_pages_link_to_each_other_keeping_the_filters(client):
    first = page(client, "/?q=the&collection=notes&k=3")
    assert "Results 1–3 of 8" in first
    next_link = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "collection=notes" in next_link and "offset=3" in next_link
    second = page(client, next_link)
    assert "Results 4–6 of 8" in second and 'rel="prev"' in second
    last = page(client, "/?q=the&collection=notes&k=3&offset=6")
    assert "Results 7–8 of 8" in last and 'rel="next"' not in last


def test_parameters_named_like_url_for_options_stay_parameters(client):
    # They once reached url_for as its own options: a 500, or a Next link to another scheme.
    html = page(client, "/?q=the&k=3&_external=1&_scheme=javascript&_anchor=x")
    next_link = re.search(r'<a rel="next" href="([^"]+)"', html).group(1)
    assert next_link.startswith("/?q=the&amp;k=3&amp;_external=1&amp;_scheme=javascript&amp;_anchor=x&amp;offset=3")


def test_document_page_marks_the_passage_and_offers_more_like_this(client):
    html = page(client, "/documents/library/long?q=cattle&passage=65-130")
    assert '<mark id="passage" class="passage"><span class="visually-hidden">Matching passage: </span>' in html
    assert "<mark>cattle</mark>" in html
    assert "More like this" in html and html.count('href="/documents/') >= 3
    assert 'id="passage"' not in page(client, "/documents/library/long?passage=oops")  # a malformed passage is ignored
    assert 'id="passage"' not in page(client, "/documents/library/long")  # no empty marked block


def test_result_links_jump_to_the_passage_only_past_the_start(client):
    for query, starts in (("cattle", {"n6": 22, "long": 22}), ("cat mat", {"cats": 0, "n3": 0, "n0": 0})):
        links = re.findall(r'<h2><a href="/documents/[^/]+/([^?"]+)\?[^"#]*passage=(\d+)-\d+[^"#]*(#passage)?"',
                           page(client, f"/?q={query}&mode=lexical"))
        assert {doc: int(start) for doc, start, _ in links} == starts
        assert all((jump == "#passage") == (int(start) > 0) for _, start, jump in links)  # the first passage: title stays in view


def test_document_page_leads_back_to_the_search_and_to_other_modes(client):
    search = "/?q=the&mode=dense&collection=notes&k=3&offset=3&filter.kind=note"
    link = re.search(r'<h2><a href="([^"]+)"', page(client, search)).group(1).replace("&amp;", "&")
    assert "collection=notes" in link and "offset=3" in link and "filter.kind=note" in link and "passage=" in link
    html = page(client, link.split("#")[0])
    back = re.search(r'<a href="([^"]+)">← Back to results</a>', html).group(1).replace("&amp;", "&")
    assert back.startswith("/?") and "passage" not in back
    assert sorted(back[2:].split("&")) == sorted(search[2:].split("&"))  # the same search, page and filters
    assert 'Results 4–6 of 8' in page(client, back)
    modes = dict((m, u.replace("&amp;", "&")) for u, m in re.findall(r'<a href="(/\?[^"]+)">(lexical|hybrid)</a>', html))
    assert set(modes) == {"lexical", "hybrid"} and '<strong aria-current="true">dense</strong>' in html
    assert "mode=hybrid" in modes["hybrid"] and "offset" not in modes["hybrid"] and "collection=notes" in modes["hybrid"]
    assert "Results 1–3 of" in page(client, modes["hybrid"])
    assert '<option value="dense" selected>' in html and '<option value="notes" selected>' in html  # the form re-runs it too
    assert "Back to results" not in page(client, "/documents/library/long")  # reached without a search: nothing to go back to


def test_unknown_document_and_page_are_html_404(client):
    assert "no such page" in page(client, "/documents/notes/missing", status=404)
    assert "no such page" in page(client, "/nowhere", status=404)


def test_document_fields_are_escaped(client, instance, database_url):
    writer = SearchIndex.open(instance, database_url=database_url)
    index_records(writer, [Record("x", f"Title {XSS}", f"Evil text {XSS} cattle", {"url": "javascript:alert(1)", "note": XSS}, "test")],
                  IndexConfig(collection="notes"))
    writer.close()
    for html in (page(client, "/?q=cattle+evil&mode=lexical"), page(client, "/documents/notes/x?q=evil")):
        assert "<script>" not in html and "<img" not in html and 'href="javascript:' not in html
        assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html
    assert "javascript:alert(1)" in page(client, "/documents/notes/x")  # shown as text, not as a link

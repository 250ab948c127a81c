"""The web UI through the Flask test client: states of the search page, the document page, escaping."""

from __future__ import annotations

import re

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


def test_results_with_highlights_scores_and_metadata(client):
    html = page(client, "/?q=cattle&mode=lexical")
    assert "Results 1–2 of 2" in html and "lexical" in html
    assert "<mark>cattle</mark>" in html
    assert 'class="score"' in html and "<dt>kind</dt><dd>book</dd>" in html
    assert 'href="/documents/library/long?q=cattle&amp;passage=' in html
    assert '<option value="lexical" selected>' in html


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


def test_document_page_marks_the_passage_and_offers_more_like_this(client):
    html = page(client, "/documents/library/long?q=cattle&passage=65-130")
    assert '<span id="passage" class="passage">' in html and "<mark>cattle</mark>" in html
    assert "More like this" in html and html.count('href="/documents/') >= 3
    assert page(client, "/documents/library/long?passage=oops")  # a malformed passage is ignored


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

"""The app as a person uses it: `manage.py serve` on 127.0.0.1, driven by Debian's Chromium through
Playwright. The instance holds the first documents of the bundled demo corpus, indexed with the
shipped model, so the screenshot (tests/e2e/artifacts/, not committed) shows real results."""

from __future__ import annotations

import json
import urllib.request

from browser_env import ARTIFACTS, HEIGHT, TOKEN, WIDTH, XSS
from playwright.sync_api import Page, expect


def search(page: Page, query: str, mode: str | None = None) -> None:
    page.fill('input[name="q"]', query)
    if mode:
        page.select_option('select[name="mode"]', mode)
    page.click('button[type="submit"]')
    page.wait_for_load_state()


def results_above_the_fold(page: Page) -> float:
    """How many results the first screen shows, a result cut by the bottom edge counting by the part shown."""
    shown = 0.0
    for box in (result.bounding_box() for result in page.locator("li.result").all()):
        shown += max(0.0, min(1.0, (HEIGHT - box["y"]) / box["height"]))
    return shown


def test_search_highlight_page_open_and_switch_mode(server, page):
    page.goto(server)
    expect(page.locator("h1")).to_have_text("Search by meaning")
    search(page, "virus infection of the immune system", mode="hybrid")
    expect(page.locator("li.result")).to_have_count(10)
    expect(page.locator(".summary")).to_contain_text("Results 1–10 of")
    assert page.locator(".snippet mark").count() > 0
    assert {m.lower() for m in page.locator(".snippet mark").all_inner_texts()} <= {"virus", "viruses", "infection", "infections",
                                                                                    "immune", "system", "systems", "infected"}
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search.png"))
    page.screenshot(path=str(ARTIFACTS / "search-full.png"), full_page=True)
    assert results_above_the_fold(page) >= 6, [r.bounding_box() for r in page.locator("li.result").all()]
    relevances = page.locator(".relevance").all_inner_texts()
    assert relevances[0].strip() == "100%" and all(r.strip().endswith("%") for r in relevances)

    page.click('a[rel="next"]')
    expect(page.locator(".summary")).to_contain_text("Results 11–20 of")
    page.click('a[rel="prev"]')
    expect(page.locator(".summary")).to_contain_text("Results 1–10 of")

    search(page, "virus infection of the immune system", mode="lexical")
    assert "mode=lexical" in page.url
    expect(page.locator(".summary")).to_contain_text("lexical")
    expect(page.locator('select[name="mode"]')).to_have_value("lexical")

    title = page.locator("li.result h2 a").first.inner_text()
    page.locator("li.result h2 a").first.click()
    expect(page.locator("article h1")).to_have_text(title)
    expect(page.locator("#passage")).to_be_visible()
    assert page.locator("#passage mark").count() > 0
    expect(page.locator(".similar li")).to_have_count(5)
    page.screenshot(path=str(ARTIFACTS / "document.png"), full_page=True)


def test_metadata_shared_by_a_page_is_shown_once(server, page):
    page.goto(f"{server}/?q=cell+biology&collection=scifact")
    expect(page.locator("li.result")).to_have_count(10)
    expect(page.locator(".shared")).to_have_count(1)
    expect(page.locator(".shared dt")).to_have_text("source")
    expect(page.locator(".shared dd")).to_have_text("SciFact (Wadden et al., 2020)")
    assert page.locator("li.result dt", has_text="source").count() == 0


def test_document_page_shows_the_passage_below_the_header_and_leads_back(server, page):
    page.goto(f"{server}/?q=the+immune+response+to+infection&mode=dense&collection=scifact&offset=10")
    expect(page.locator(".summary")).to_contain_text("Results 11–20 of")
    deep = page.locator('li.result h2 a[href$="#passage"]').first  # a passage past the start: the page jumps to it
    title = deep.inner_text()
    deep.click()
    expect(page.locator("article h1")).to_have_text(title)
    passage = page.locator("mark#passage")
    expect(passage).to_be_in_viewport()
    box = passage.bounding_box()
    assert box["y"] >= 0 and page.evaluate(f"document.elementFromPoint({box['x'] + box['width'] / 2}, {box['y'] + 4})"
                                           ".closest('#passage') !== null")  # nothing covers its first line
    style = passage.evaluate("e => { const s = getComputedStyle(e); return [s.borderLeftWidth, s.borderLeftStyle, s.backgroundColor]; }")
    assert float(style[0].removesuffix("px")) >= 3 and style[1] == "solid" and style[2] not in ("rgba(0, 0, 0, 0)", "transparent")
    page.screenshot(path=str(ARTIFACTS / "passage.png"))

    page.locator("nav.back a", has_text="hybrid").click()
    expect(page.locator(".summary")).to_contain_text("Results 1–10 of")
    expect(page.locator(".summary")).to_contain_text("hybrid")
    expect(page.locator('select[name="collection"]')).to_have_value("scifact")
    page.go_back()
    page.click("text=← Back to results")
    expect(page.locator(".summary")).to_contain_text("Results 11–20 of")
    expect(page.locator('select[name="mode"]')).to_have_value("dense")
    expect(page.locator('select[name="collection"]')).to_have_value("scifact")


def test_unknown_collection_and_empty_query_are_said(server, page):
    response = page.goto(f"{server}/?q=cells&collection=nope")
    assert response.status == 404
    expect(page.locator('[role="alert"]')).to_have_text("no collection named 'nope'; collections: scifact, wikipedia")
    expect(page.locator('select[name="collection"]')).to_be_visible()
    page.fill('input[name="q"]', "   ")
    page.click('button[type="submit"]')
    expect(page.locator('[role="status"]')).to_contain_text("Type something to search")


def test_collection_filter_and_no_results(server, page):
    page.goto(server)
    page.select_option('select[name="collection"]', "wikipedia")
    search(page, "the history of a town")
    assert set(page.locator("li.result .collection").all_inner_texts()) == {"wikipedia"}
    search(page, "qwxzv", mode="lexical")
    expect(page.locator("h1")).to_have_text("No results")


def test_a_document_with_markup_is_shown_as_text(server, page):
    body = json.dumps({"collection": "wikipedia", "documents": [
        {"id": "xss", "title": f"Markup {XSS}", "text": f"Zanzibar markup test {XSS}", "url": "javascript:window.pwned=3"}]}).encode()
    request = urllib.request.Request(f"{server}/api/documents?wait=60", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert json.load(urllib.request.urlopen(request))["result"]["added"] == 1  # applied by the serve command's writer
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server)
    search(page, "zanzibar markup", mode="lexical")
    expect(page.locator("li.result h2 a").first).to_contain_text("<script>window.pwned = 1</script>")
    page.locator("li.result h2 a").first.click()
    expect(page.locator("article h1")).to_contain_text('<img src=x onerror="window.pwned = 2">')
    assert page.locator("a[href^='javascript:']").count() == 0
    assert page.evaluate("window.pwned") is None and dialogs == []


def test_a_phone_sized_window_needs_no_sideways_scrolling(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server}/?q=the+immune+system&mode=hybrid")
    expect(page.locator("li.result")).to_have_count(10)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "phone.png"))
    page.locator("li.result h2 a").first.click()
    expect(page.locator("article h1")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "phone-document.png"))
    context.close()


def test_everything_works_without_javascript(server, browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, java_script_enabled=False)
    page = context.new_page()
    page.goto(server)
    search(page, "a television episode about aliens", mode="hybrid")
    expect(page.locator("li.result")).to_have_count(10)
    page.click('a[rel="next"]')
    expect(page.locator(".summary")).to_contain_text("Results 11–20 of")
    page.locator("li.result h2 a").first.click()
    expect(page.locator("article h1")).to_be_visible()
    page.locator("nav.back a", has_text="lexical").click()
    expect(page.locator(".summary")).to_contain_text("lexical")
    page.go_back()
    page.click("text=← Back to results")
    expect(page.locator(".summary")).to_contain_text("Results 11–20 of")
    context.close()

""""Why this result?" in Chromium: the results page's panel filled by static/explain.js, the document
page's server-rendered explanation, both without JavaScript too, and markup in a document kept as text.
The server and browser are test_browser.py's (the demo corpus, the shipped model); screenshots go to
tests/e2e/artifacts/."""

from __future__ import annotations

import json
import urllib.request

from browser_env import ARTIFACTS, HEIGHT, TOKEN, WIDTH, XSS
from playwright.sync_api import expect

QUERY = "soccer player"


def shaded_words(server: str, api_url: str) -> list[str]:
    with urllib.request.urlopen(server + api_url) as response:
        return [word["text"] for word in json.load(response)["passage_words"] if word["shade"]]


def test_the_panel_shows_the_shaded_passage_and_leads_to_the_document(server, page):
    page.goto(f"{server}/?q=soccer+player&mode=dense")
    expect(page.locator("li.result")).to_have_count(10)
    panel = page.locator("li.result details.why").first
    expected = shaded_words(server, panel.get_attribute("data-explain"))
    assert expected  # the top passage has words the shipped model finds close to the query's
    panel.locator("summary").click()
    expect(panel.locator(".why-text")).to_be_visible()
    expect(panel.locator(".why-words tbody th")).to_have_text(["soccer", "player"])
    expect(panel.locator(".why-text mark")).to_have_text(expected)
    background = panel.locator(".why-text mark").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explain-panel.png"))
    assert panel.get_attribute("data-state") == "done"
    panel.locator("summary").click()  # closed and opened again: fetched once
    panel.locator("summary").click()
    expect(panel.locator(".why-text")).to_have_count(1)

    panel.locator(".why-body a").click()
    section = page.locator("section#why")
    expect(section).to_be_in_viewport()
    expect(section.locator(".why-text mark")).to_have_text(expected)
    page.screenshot(path=str(ARTIFACTS / "explain-document.png"))


def test_without_javascript_the_panel_links_to_the_server_rendered_explanation(server, browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/?q=soccer+player&mode=dense")
    panel = page.locator("li.result details.why").first
    panel.locator("summary").click()
    link = panel.locator(".why-body a")
    expect(link).to_be_visible()
    expect(panel.locator(".why-text")).to_have_count(0)
    link.click()
    expect(page.locator("section#why .why-text mark").first).to_be_visible()
    expect(page.locator("section#why .why-words tbody th")).to_have_text(["soccer", "player"])
    page.screenshot(path=str(ARTIFACTS / "explain-document-no-js.png"))
    context.close()


def test_markup_in_a_passage_stays_text_in_the_panel(server, page):
    body = json.dumps({"collection": "wikipedia", "documents": [
        {"id": "xss-why", "title": f"Quokka {XSS}", "text": f"Quokka markup test {XSS} &amp; \"quotes\""}]}).encode()
    request = urllib.request.Request(f"{server}/api/documents?wait=60", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert json.load(urllib.request.urlopen(request))["result"]["added"] == 1  # applied by the serve command's writer
    page.goto(f"{server}/?q=quokka+markup&mode=lexical")
    panel = page.locator("li.result details.why").first
    panel.locator("summary").click()
    expect(panel.locator(".why-text")).to_contain_text(f"Quokka markup test {XSS} &amp; \"quotes\"")
    assert panel.locator(".why-text script, .why-text img").count() == 0
    assert page.evaluate("window.pwned") is None

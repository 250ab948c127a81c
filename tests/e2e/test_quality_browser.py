"""The /quality pages in Chromium: sign in with the token (HTTP Basic), upload a labelled set through
the form, run it in the background, and read the history with its SVG charts. The screenshot goes to
tests/e2e/artifacts/quality.png. The server is the one test_browser.py starts (demo documents)."""

from __future__ import annotations

import gzip
import itertools
import json

from browser_env import ARTIFACTS, HEIGHT, TOKEN, WIDTH
from playwright.sync_api import expect

from indexer.demo import demo_files


def test_upload_a_set_run_it_and_read_its_charts(server, browser, tmp_path):
    collection, path = next(iter(demo_files().items()))
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        documents = [json.loads(line) for line in itertools.islice(lines, 3)]
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps({"_id": f"q{n}", "text": d.get("title") or d["text"][:80]}) + "\n" for n, d in enumerate(documents)))
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{n}\t{d['id']}\t1\n" for n, d in enumerate(documents)))

    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, http_credentials={"username": "operator", "password": TOKEN})
    page = context.new_page()
    page.goto(f"{server}/quality")
    expect(page.locator("h1")).to_have_text("Search quality")
    page.fill('input[name="name"]', "demo-titles")
    page.select_option('select[name="collection"]', collection)
    page.set_input_files('input[name="queries"]', str(queries))
    page.set_input_files('input[name="qrels"]', str(qrels))
    page.click("form.upload button")
    expect(page.locator("h1")).to_have_text("demo-titles")
    page.click("form.run button")  # every mode, in the background; the page reloads itself until they are done
    expect(page.locator("table.figures tbody tr")).to_have_count(3)
    expect(page.locator("table.figures td.muted")).to_have_count(0, timeout=60_000)  # no run left queued or running
    page.reload()
    assert page.locator("figure.chart svg circle").count() == 9  # three metrics, three modes, one index version
    assert page.locator("figure.chart svg rect").count() == 3 and page.locator("table.worst").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "quality.png"), full_page=True)
    context.close()

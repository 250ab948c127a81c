"""The browser tests' shared fixtures: `server` (`manage.py serve` on 127.0.0.1 over an instance holding
the first documents of the bundled demo corpus, indexed with the shipped model, writes enabled with
`TOKEN`), `browser` (Debian's Chromium through Playwright) and `page` (a fresh window of WIDTH x HEIGHT).
Each test module gets its own server, so no module sees another's writes."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_env import HEIGHT, TOKEN, WIDTH
from playwright.sync_api import Page, sync_playwright

from encoder.paths import DEFAULT_MODEL
from indexer.demo import demo_files
from indexer.ingest import IndexConfig, index_records
from indexer.readers import FieldMap, parse_record
from indexer.search_index import SearchIndex

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCUMENTS_PER_COLLECTION = 40


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("e2e") / "instance"
    index = SearchIndex.open(instance, model=DEFAULT_MODEL)
    for collection, path in demo_files().items():
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            records = [parse_record(json.loads(line), FieldMap(), f"{path}:{n}")
                       for n, line in enumerate(itertools.islice(lines, DOCUMENTS_PER_COLLECTION), start=1)]
        index_records(index, records, IndexConfig(collection=collection))
    index.close()
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "--instance", str(instance), "serve", "--port", str(port)],
                               env=os.environ | {"SEARCHAPP_API_TOKEN": TOKEN}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/health", timeout=5)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the server did not start: {process.stdout.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()




@pytest.fixture
def page(browser) -> Page:
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    yield page
    context.close()

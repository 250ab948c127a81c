"""What the UI's pages show, computed without a request: shared metadata and a document's sections."""

from __future__ import annotations

import pytest

from indexer.search import Hit
from indexer.snippets import Snippet
from searchapp.pages import document_sections, page_metadata, passage_span


def hit(collection: str, metadata: dict) -> Hit:
    return Hit(0, "x", collection, "t", Snippet("s", []), 1.0, metadata, (0, 1))


def test_metadata_shared_by_a_collections_results_is_shown_once():
    hits = [hit("a", {"source": "wiki", "year": 1}), hit("a", {"source": "wiki", "year": 2}), hit("b", {"source": "wiki"})]
    shared, own = page_metadata(hits)
    assert shared == {"a": {"source": "wiki"}}  # b has one result on the page: nothing is "shared"
    assert own == [{"year": 1}, {"year": 2}, {"source": "wiki"}]


@pytest.mark.parametrize("raw, span", [("4-9", (4, 9)), ("4-900", (4, 12)), ("-3-4", (0, 0)), ("9-4", (0, 0)),
                                       ("x", (0, 0)), (None, (0, 0)), ("4", (0, 0))])
def test_passage_span_is_clamped_or_nothing(raw, span):
    assert passage_span(raw, 12) == span


def test_document_sections_mark_the_passage_and_highlight_the_query():
    text = "The pen is red. The cat sat. The pen is blue."
    sections = document_sections(text, "pen", "16-28")
    assert [(snippet.text, marked) for snippet, marked in sections] == [("The pen is red. ", False), ("The cat sat.", True),
                                                                         (" The pen is blue.", False)]
    assert [text[s:e] for s, e in sections[0][0].highlights] == ["pen"]
    assert sections[1][0].highlights == []
    whole = document_sections(text, "", None)
    assert [(snippet.text, marked) for snippet, marked in whole] == [("", False), ("", True), (text, False)]

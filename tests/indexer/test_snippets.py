"""Snippets: the window around a passage's query words, cut at word boundaries."""

from __future__ import annotations

from indexer.snippets import make_snippet


def test_snippet_window_holds_the_matches_and_cuts_at_words():
    text = " ".join(["filler words here"] * 40) + " the rare zebra appears here " + " ".join(["more filler"] * 40)
    snippet = make_snippet(text, {"zebra"}, width=80)
    assert snippet.text.startswith("…") and snippet.text.endswith("…") and len(snippet.text) <= 82
    assert [snippet.text[s:e] for s, e in snippet.highlights] == ["zebra"]
    assert not snippet.text[1:].startswith(" ") and snippet.text[1:].split()[0] in ("filler", "words", "here", "the")


def test_snippet_without_matches_is_the_start():
    snippet = make_snippet("Short text. " * 50, set(), width=40)
    assert snippet.text.startswith("Short text.") and snippet.text.endswith("…") and snippet.highlights == []
    assert snippet.parts() == [(snippet.text, False)]

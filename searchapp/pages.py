"""What the web UI's pages show, computed from results and documents apart from any request, so the
routes in `ui` only fetch and render."""

from __future__ import annotations

from indexer.lexical import terms
from indexer.search import Hit
from indexer.snippets import Snippet, make_snippet


def page_metadata(hits: list[Hit]) -> tuple[dict[str, dict], list[dict]]:
    """The metadata a results page shows: per collection with several results on the page, the fields
    that are the same on all of them (shown once, above the list: a `source` repeated on every result
    is noise), and each result's remaining fields."""
    by_collection: dict[str, list[dict]] = {}
    for hit in hits:
        by_collection.setdefault(hit.collection, []).append(hit.metadata)
    shared = {}
    for collection, metadatas in by_collection.items():
        if len(metadatas) < 2:
            continue
        same = {key: value for key, value in metadatas[0].items() if all(key in m and m[key] == value for m in metadatas[1:])}
        if same:
            shared[collection] = same
    own = [{key: value for key, value in hit.metadata.items() if key not in shared.get(hit.collection, {})} for hit in hits]
    return shared, own


def document_sections(text: str, query: str, passage: str | None) -> list[tuple[Snippet, bool]]:
    """A document's whole text as three sections, before, within and after the passage a result link
    named (`passage=START-END`; none: all of it before), each with the query's words highlighted, and
    whether it is the passage to mark."""
    start, end = passage_span(passage, len(text))
    query_terms = set(terms(query))
    return [(make_snippet(part, query_terms, width=len(part) + 1), index == 1)
            for index, part in enumerate((text[:start], text[start:end], text[end:]))]


def passage_span(raw: str | None, length: int) -> tuple[int, int]:
    """`passage=START-END` from a result link, clamped to the text; (0, 0) when absent or malformed."""
    try:
        start, end = (int(x) for x in (raw or "").split("-", 1))
    except ValueError:
        return 0, 0
    start, end = max(0, min(start, length)), max(0, min(end, length))
    return (start, end) if start < end else (0, 0)

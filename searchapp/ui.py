"""The web UI: a search page and a document page, plain HTML forms that work without JavaScript.

Every value that comes from a document is rendered through Jinja's autoescaping; highlighted
snippets are handed to templates as (text, highlighted) pieces, never as markup.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for

from indexer.lexical import terms

from . import search_service
from .errors import ApiError
from .params import parse_search_params
from .search import MODES, make_snippet

blueprint = Blueprint("ui", __name__)
SIMILAR_DOCUMENTS = 5
EXAMPLE_QUERIES = ("how do vaccines protect against disease", "a television episode about aliens",
                   "protein folding in cancer cells", "history of a small town in England")


@blueprint.get("/")
def search_page():
    service = search_service()
    context = {"modes": MODES, "collections": service.collections(), "args": request.args, "examples": EXAMPLE_QUERIES,
               "results": None, "params": None, "error": None}
    if not request.args.get("q", "").strip():
        return render_template("search.html", **context)
    try:
        params = parse_search_params(request.args, current_app.config, default_k=current_app.config["PAGE_SIZE"])
    except ApiError as error:
        return render_template("search.html", **context | {"error": error.message}), error.status
    results = service.search(params.query, params.mode, params.k, params.offset, params.filters)
    return render_template("search.html", **context | {"results": results, "params": params})


@blueprint.get("/documents/<collection>/<path:document_id>")
def document_page(collection: str, document_id: str):
    service = search_service()
    document = service.document(document_id, collection)  # unique within a collection
    if document is None:
        abort(404)
    query = request.args.get("q", "")[: current_app.config["MAX_QUERY_CHARS"]]
    start, end = _passage(request.args.get("passage"), len(document.text))
    query_terms = set(terms(query))
    sections = [(make_snippet(part, query_terms, width=len(part) + 1), index == 1)
                for index, part in enumerate((document.text[:start], document.text[start:end], document.text[end:]))]
    return render_template("document.html", document=document, sections=sections, query=query,
                           similar=service.similar(document, SIMILAR_DOCUMENTS))


def _passage(raw: str | None, length: int) -> tuple[int, int]:
    """`passage=START-END` from a result link, clamped to the text; (0, 0) when absent or malformed."""
    try:
        start, end = (int(x) for x in (raw or "").split("-", 1))
    except ValueError:
        return 0, 0
    start, end = max(0, min(start, length)), max(0, min(end, length))
    return (start, end) if start < end else (0, 0)


@blueprint.app_template_global()
def page_url(offset: int) -> str:
    """This search with another offset, keeping every other parameter (filters included)."""
    args = request.args.to_dict(flat=False)
    args["offset"] = [str(offset)]
    return url_for("ui.search_page", **args)


@blueprint.app_template_global()
def is_web_link(value: object) -> bool:
    """Only http(s) metadata values become links: a `javascript:` URL in a document must stay text."""
    return isinstance(value, str) and value.startswith(("https://", "http://"))

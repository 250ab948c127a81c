"""The web UI: a search page and a document page, plain HTML forms that work without JavaScript.
The one script, static/explain.js, only fills a result's "Why this result?" panel in place; without
it the panel links to the document page, which the server renders with the same explanation.

Every value that comes from a document is rendered through Jinja's autoescaping; highlighted
snippets are handed to templates as (text, highlighted) pieces, never as markup. A result's link
carries its search (q, mode, collection, page, filters) to the document page, which links back to
it and re-runs it in another mode.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, render_template, request, url_for

from indexer.explain import explain
from indexer.reranking import SCORE_KIND as RERANK_SCORE_KIND
from indexer.retrieval import MODES, SCORE_KINDS
from indexer.search import Hit

from .errors import ApiError
from .pages import document_sections, page_metadata
from .params import parse_search_params, requested_mode, run_search, switch
from .service import search_service

blueprint = Blueprint("ui", __name__)
SIMILAR_DOCUMENTS = 5
EXAMPLE_QUERIES = ("how do vaccines protect against disease", "a television episode about aliens",
                   "protein folding in cancer cells", "history of a small town in England")
EMPTY_QUERY = "Type something to search: a question, a description or a few words."
DOCUMENT_PARAMETERS = ("passage",)  # the document page's own; every other parameter belongs to the search


@blueprint.get("/")
def search_page():
    service = search_service()
    context = {"modes": MODES, "collections": service.collections(), "args": request.args, "examples": EXAMPLE_QUERIES,
               "results": None, "params": None, "error": None, "notice": None}
    if "q" not in request.args:
        return render_template("search.html", **context)
    if not request.args["q"].strip():  # the form sent empty: say so, rather than a home page without a word
        return render_template("search.html", **context | {"notice": EMPTY_QUERY})
    try:
        params = parse_search_params(request.args, current_app.config, default_k=current_app.config["PAGE_SIZE"])
        results = run_search(service, params)
    except ApiError as error:
        return render_template("search.html", **context | {"error": error.message}), error.status
    shared, own = page_metadata(results.hits)
    return render_template("search.html", **context | {"results": results, "params": params, "shared": shared, "own": own,
                                                       "score_kind": SCORE_KINDS[results.mode], "rerank_score_kind": RERANK_SCORE_KIND})


@blueprint.get("/documents/<collection>/<path:document_id>")
def document_page(collection: str, document_id: str):
    service = search_service()
    document = service.document(document_id, collection)  # unique within a collection
    if document is None:
        abort(404)
    query = request.args.get("q", "")[: current_app.config["MAX_QUERY_CHARS"]]
    sections = document_sections(document.text, query, request.args.get("passage"))
    explanation = explain(service.index, document, query.strip()) if query.strip() else None
    return render_template("document.html", document=document, sections=sections, modes=MODES,
                           collections=service.collections(), args=request.args, explanation=explanation,
                           similar=service.similar(document, SIMILAR_DOCUMENTS))


def _search_query(changes: dict[str, object]) -> str:
    """The request's search parameters with `changes` applied (None drops one), as `?…` (or nothing).
    Encoded here, not by `url_for`: the search's `collection` would collide with the document route's,
    and a parameter named like `url_for`'s own (`_external`, `_scheme`) must stay a parameter."""
    args = {name: values for name, values in request.args.to_dict(flat=False).items() if name not in DOCUMENT_PARAMETERS}
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = [str(value)]
    return f"?{urlencode(args, doseq=True)}" if args else ""


@blueprint.app_template_global()
def search_url(**changes: object) -> str:
    """This page's search (on a document page, the one its result link carried) with some parameters
    changed, filters kept: `search_url(offset=20)` is another page, `search_url(mode="lexical",
    offset=None)` the first page in another mode, `search_url()` the way back to the results."""
    return url_for("ui.search_page") + _search_query(changes)


@blueprint.app_template_global()
def document_url(hit: Hit, passage: bool = True, section: str | None = None) -> str:
    """A result's document page, carrying this page's search along and, with `passage`, the passage to
    mark. The page jumps to `section` if given, else to the passage where it does not open the
    text: a jump to the first passage would only scroll the title away."""
    query = _search_query({"passage": f"{hit.passage[0]}-{hit.passage[1]}" if passage else None})
    url = url_for("ui.document_page", collection=hit.collection, document_id=hit.id)
    return url + query + (f"#{section}" if section else "#passage" if passage and hit.passage[0] > 0 else "")


@blueprint.app_template_global()
def rerank_choice() -> dict[str, object]:
    """The search form's rerank checkbox: `problem` says why it is disabled (the server has no
    reranker), `ticked` whether this search asked for reranking (or the `RERANK` setting does)."""
    problem = search_service().reranker.problem
    try:
        ticked = switch(request.args, "rerank", current_app.config["RERANK"])
    except ApiError:  # a bad rerank= in the URL: the page itself says so
        ticked = False
    return {"problem": problem, "ticked": ticked and not problem}


@blueprint.app_template_global()
def chosen_mode() -> str:
    """The mode this page's search is in: the one it asked for, else the `SEARCH_MODE` setting."""
    return requested_mode(request.args, current_app.config)


@blueprint.app_template_global()
def is_web_link(value: object) -> bool:
    """Only http(s) metadata values become links: a `javascript:` URL in a document must stay text."""
    return isinstance(value, str) and value.startswith(("https://", "http://"))

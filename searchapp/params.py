"""The search parameters of a request, checked once for the UI and the API alike, and the search they ask for.

    q=…  k=1…MAX_K  offset=0…MAX_OFFSET  mode=dense|lexical|hybrid  collection=…  filter.FIELD=VALUE (repeatable)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from indexer.ranking import Filters
from indexer.retrieval import MODES
from indexer.search import Results, SearchService, UnknownCollection
from indexer.validation import clean_text, collection_problem

from .errors import ApiError

FILTER_PREFIX = "filter."


@dataclass(frozen=True)
class SearchParams:
    query: str
    mode: str
    k: int
    offset: int
    filters: Filters


def parse_search_params(args: MultiDict, config: Mapping, default_k: int = 10) -> SearchParams:
    """The parameters, checked. The query is cleaned like a document's text (no NUL or other control
    characters, no lone surrogates), since it reaches the encoder and is echoed in JSON; a collection
    no document can be in is refused rather than searched for."""
    query = clean_text(args.get("q", "")).strip()
    if not query:
        raise ApiError(400, "empty_query", "the query is empty: pass it as q=…")
    if len(query) > config["MAX_QUERY_CHARS"]:
        raise ApiError(400, "query_too_long", f"the query has {len(query):,} characters; the limit is {config['MAX_QUERY_CHARS']:,}")
    mode = args.get("mode", "dense")
    if mode not in MODES:
        raise ApiError(400, "invalid_parameter", f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    metadata: dict[str, tuple[str, ...]] = {}
    for key in args:
        if key.startswith(FILTER_PREFIX):
            name = key[len(FILTER_PREFIX):]
            if not name:
                raise ApiError(400, "invalid_parameter", "a filter needs a field name: filter.FIELD=VALUE")
            metadata[name] = tuple(args.getlist(key))
    collection = args.get("collection") or None
    if collection is not None and (problem := collection_problem(collection)):
        raise ApiError(400, "invalid_parameter", problem)
    return SearchParams(
        query=query,
        mode=mode,
        k=_integer(args, "k", default_k, 1, config["MAX_K"]),
        offset=_integer(args, "offset", 0, 0, config["MAX_OFFSET"]),
        filters=Filters(collection=collection, metadata=metadata),
    )


def run_search(service: SearchService, params: SearchParams) -> Results:
    """The search `params` ask for, with the service's refusals as the client's mistakes (404 for a
    collection that does not exist), so the UI and the API say the same thing."""
    try:
        return service.search(params.query, params.mode, params.k, params.offset, params.filters)
    except UnknownCollection as error:
        raise ApiError(404, "unknown_collection", str(error)) from None


def _integer(args: MultiDict, name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return value

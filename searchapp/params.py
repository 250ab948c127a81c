"""What a request asks for, checked before a route acts on it: the search parameters (once for the UI
and the API alike) and the search they ask for, a write's `?wait=`, and an upsert's body.

    q=…  k=1…MAX_K  offset=0…MAX_OFFSET  mode=dense|lexical|hybrid  bm25=document|passage  collection=…  filter.FIELD=VALUE (repeatable)
         rerank=true|false|1|0 (the last given wins)  rerank_depth=1…MAX_RERANK_DEPTH  expand=true|false|1|0
    q=…  (alone, `parse_query`: what an explanation reads besides the document's id)
    wait=0…MAX_WAIT_SECONDS
    {"collection": …, "documents": [{"id", "title", "text", "metadata"?, …}, …]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from indexer.expansion import expands
from indexer.ranking import Filters
from indexer.readers import FieldMap, Record, parse_record
from indexer.reranking import MAX_RERANK_DEPTH, RerankUnavailable
from indexer.retrieval import BM25_UNITS, MODES
from indexer.search import Results, SearchService, UnknownCollection
from indexer.validation import clean_text, collection_problem

from .config import SWITCH_VALUES
from .errors import ApiError
from .strict_json import load_body
from .writes import MAX_WAIT_SECONDS

FILTER_PREFIX = "filter."
SHOWN_PROBLEMS = 10  # of an upsert's invalid documents, named in the refusal


@dataclass(frozen=True)
class SearchParams:
    query: str
    mode: str
    k: int
    offset: int
    filters: Filters
    bm25: str  # what BM25 ranks in lexical and hybrid modes (the `BM25_UNIT` setting unless the request says)
    rerank: int = 0  # documents the reranker rescores; 0: not reranked (the `RERANK` setting unless the request says)
    expand: bool = False  # whether BM25 expands the query (as the `QUERY_EXPANSION` setting says for the mode, unless the request says)


def parse_search_params(args: MultiDict, config: Mapping, default_k: int = 10) -> SearchParams:
    """The parameters, checked. The query is cleaned like a document's text (no NUL or other control
    characters, no lone surrogates), since it reaches the encoder and is echoed in JSON; a collection
    no document can be in is refused rather than searched for."""
    query = parse_query(args, config)
    mode = requested_mode(args, config)
    if mode not in MODES:
        raise ApiError(400, "invalid_parameter", f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    bm25 = args.get("bm25") or config["BM25_UNIT"]
    if bm25 not in BM25_UNITS:
        raise ApiError(400, "invalid_parameter", f"unknown bm25 unit {bm25!r}: use one of {', '.join(BM25_UNITS)}")
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
        bm25=bm25,
        rerank=_integer(args, "rerank_depth", config["RERANK_DEPTH"], 1, MAX_RERANK_DEPTH) if switch(args, "rerank", config["RERANK"]) else 0,
        expand=switch(args, "expand", expands(config["QUERY_EXPANSION"], mode)),
    )


def requested_mode(args: MultiDict, config: Mapping) -> str:
    """The mode a request asks for (`mode=`), else the `SEARCH_MODE` setting; checked by `parse_search_params`."""
    return args.get("mode") or str(config["SEARCH_MODE"])


def switch(args: MultiDict, name: str, default: object) -> bool:
    """An on/off parameter (`rerank=`, `expand=`), else its setting's `default`. The last value wins: the
    UI's form sends a hidden `rerank=0` before its checkbox's `rerank=1`, so that an unticked box turns
    a default on off."""
    given = args.getlist(name)
    if not given or given[-1] == "":
        return bool(default)
    if given[-1].lower() not in SWITCH_VALUES:
        raise ApiError(400, "invalid_parameter", f"{name} must be true or false (or 1 or 0), not {given[-1]!r}")
    return SWITCH_VALUES[given[-1].lower()]


def parse_query(args: MultiDict, config: Mapping) -> str:
    """`q`, cleaned (see `parse_search_params`): neither empty nor over MAX_QUERY_CHARS characters."""
    query = clean_text(args.get("q", "")).strip()
    if not query:
        raise ApiError(400, "empty_query", "the query is empty: pass it as q=…")
    if len(query) > config["MAX_QUERY_CHARS"]:
        raise ApiError(400, "query_too_long", f"the query has {len(query):,} characters; the limit is {config['MAX_QUERY_CHARS']:,}")
    return query


def run_search(service: SearchService, params: SearchParams) -> Results:
    """The search `params` ask for, with the service's refusals as the client's mistakes (404 for a
    collection that does not exist, 400 for reranking where the server has no reranker), so the UI
    and the API say the same thing."""
    try:
        return service.search(params.query, params.mode, params.k, params.offset, params.filters, params.bm25, params.rerank, params.expand)
    except UnknownCollection as error:
        raise ApiError(404, "unknown_collection", str(error)) from None
    except RerankUnavailable as error:
        raise ApiError(400, "rerank_unavailable", str(error)) from None


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


def wait_seconds(args: MultiDict) -> float:
    """`?wait=SECONDS`: how long the request may wait for its job to finish (0, the default: not at all)."""
    given = args.get("wait", "0")
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_WAIT_SECONDS:  # also refuses nan
        raise ApiError(400, "invalid_parameter", f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}, not {given!r}")
    return seconds


def parse_upsert(body: bytes, max_documents: int) -> tuple[str, list[Record]]:
    """`{"collection": …, "documents": [{"id", "title", "text", "metadata"?, …}]}`, checked whole
    before anything is written: one bad document refuses the batch, naming every problem found."""
    payload = load_body(body)
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_body", 'the body must be a JSON object: {"collection": …, "documents": […]}')
    collection = payload.get("collection", "default")
    if not isinstance(collection, str):
        raise ApiError(400, "invalid_body", '"collection" must be a string')
    if problem := collection_problem(collection):
        raise ApiError(400, "invalid_body", problem)
    documents = payload.get("documents")
    if not isinstance(documents, list) or not documents:
        raise ApiError(400, "invalid_body", '"documents" must be a non-empty list of documents')
    if len(documents) > max_documents:
        raise ApiError(400, "too_many_documents", f"{len(documents):,} documents in one request; the limit is {max_documents:,}")
    records, problems = [], []
    for position, value in enumerate(documents):
        origin = f"documents[{position}]"
        parsed = parse_record(value, FieldMap(), origin) if isinstance(value, dict) else ValueError(f"{origin}: must be an object")
        if isinstance(parsed, Record):
            records.append(parsed)
        else:
            problems.append(str(parsed))
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS]) + ("; …" if len(problems) > SHOWN_PROBLEMS else "")
        raise ApiError(400, "invalid_document", f"{len(problems)} invalid document(s): {shown}")
    return collection, records

"""The OpenAPI 3 description of /api, built from the same limits the handlers enforce; the tests
check real responses against its schemas, so the two cannot drift apart silently."""

from __future__ import annotations

from collections.abc import Mapping

from indexer.expansion import expands
from indexer.reranking import MAX_RERANK_DEPTH
from indexer.retrieval import BM25_UNITS, MODES
from indexer.validation import COLLECTION_PATTERN, COLLECTION_RULE, MAX_COLLECTION_CHARS, MAX_ID_BYTES

from .strict_json import MAX_JSON_DEPTH
from .writes import MAX_WAIT_SECONDS


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(schema: str, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


_ID_RULE = f"1 to {MAX_ID_BYTES} bytes of UTF-8, not all spaces, with no control characters"
_ID_SCHEMA = {"type": "string", "minLength": 1, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$", "description": _ID_RULE}
_COLLECTION_SCHEMA = {"type": "string", "pattern": f"^{COLLECTION_PATTERN.pattern}$", "maxLength": MAX_COLLECTION_CHARS,
                      "description": COLLECTION_RULE}
_ID = {"name": "id", "in": "path", "required": True, "schema": _ID_SCHEMA,
       "description": f"the document's own id ({_ID_RULE}); one that breaks these rules is a 404 at once"}
_COLLECTION = {"name": "collection", "in": "query", "schema": _COLLECTION_SCHEMA,
               "description": "the document's collection; needed only when the id exists in several"}
_NOT_FOUND = "no such document, or an id or collection that breaks the rules, which no document can have"
_DESCRIPTION = ("Semantic search over documents, on our own BERT. Errors are {\"error\": {\"code\", \"message\"}} with a 4xx "
                "status; every response is strict JSON (never NaN or Infinity).")
_JOB_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}, "description": "the job's number"}
_BEARER = [{"bearer": []}]
_WRITE_ERRORS = {"401": _error("no bearer token"), "403": _error("wrong token, or writes disabled (no token configured)")}

_SCHEMAS: dict = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
    "Result": {"type": "object", "required": ["id", "collection", "title", "snippet", "score", "metadata"], "properties": {
        "id": {"type": "string", "description": "the document's own id"},
        "collection": {"type": "string"},
        "title": {"type": "string"},
        "snippet": {"type": "string", "description": "plain text around the best-matching passage"},
        "highlights": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                       "description": "[start, end) character spans of the snippet that match query words"},
        "score": {"type": "number", "description": "cosine (dense), BM25 (lexical) or a weighted sum of both normalised to [0, 1] "
                                                   "(hybrid); the reranker's score where reranked (a logit margin: higher is more relevant; "
                                                   "in [0, 1] where blended with the mode's order, see rerank_first_stage_weight)"},
        "metadata": {"type": "object"},
        "passage": {"type": "array", "items": {"type": "integer"}, "description": "the passage's [start, end) in the document's text"},
        "reranked": {"type": "boolean", "description": "whether score is the reranker's: the result is among the reranked top rerank_depth"}}},
    "SearchResponse": {"type": "object", "required": ["query", "mode", "took_ms", "total", "results"], "properties": {
        "query": {"type": "string"}, "mode": {"type": "string", "enum": list(MODES)},
        "took_ms": {"type": "number"}, "total": {"type": "integer", "description": "documents found for the query after filters"},
        "k": {"type": "integer"}, "offset": {"type": "integer"},
        "reranked": {"type": "boolean", "description": "whether a reranker rescored the top of the mode's ranking"},
        "rerank_depth": {"type": "integer", "description": "how many of the first results it rescored and reordered (0: none); "
                                                           "the rest keep the mode's order and scores after them"},
        "rerank_first_stage_weight": {"type": "number", "minimum": 0, "maximum": 1,
                                      "description": "where reranked: the share of the mode's order kept in the reranked scores, "
                                                     "which the reranker was given when it was trained (0: its own scores alone)"},
        "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}}}},
    "Document": {"type": "object", "required": ["id", "collection", "title", "text", "metadata"], "properties": {
        "id": {"type": "string"}, "collection": {"type": "string"}, "title": {"type": "string"},
        "text": {"type": "string"}, "metadata": {"type": "object"}}},
    "DocumentInput": {"type": "object", "required": ["id", "text"], "additionalProperties": True, "properties": {
        "id": {"oneOf": [_ID_SCHEMA, {"type": "integer"}]}, "title": {"type": "string"}, "text": {"type": "string", "minLength": 1},
        "metadata": {"type": "object", "description": "merged with any other fields into the document's metadata"}}},
    "Job": {"type": "object", "required": ["job", "kind", "collection", "status", "documents", "submitted_at", "status_url"],
            "description": "a queued write; `result` once done, `error` once failed", "properties": {
        "job": {"type": "integer"}, "kind": {"type": "string", "enum": ["upsert", "delete"]}, "collection": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "documents": {"type": "integer", "description": "documents in the request"},
        "submitted_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": "string", "format": "date-time", "description": "when the writer last began applying it"},
        "finished_at": {"type": "string", "format": "date-time"},
        "status_url": {"type": "string", "description": "GET it (with the token) to follow the job"},
        "result": {"oneOf": [{"$ref": "#/components/schemas/UpsertResult"}, {"$ref": "#/components/schemas/DeleteResult"}]},
        "error": {"type": "string", "description": "why the job failed (a server-side problem: the input was checked when it was accepted)"}}},
    "UpsertResult": {"type": "object", "required": ["added", "updated", "unchanged", "chunks", "index_version"],
                     "additionalProperties": False, "properties": {
        "added": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
        "chunks": {"type": "integer"}, "index_version": {"type": "integer", "description": "the first index version that holds the job"}}},
    "DeleteResult": {"type": "object", "required": ["id", "deleted", "index_version"], "additionalProperties": False, "properties": {
        "id": {"type": "string"}, "deleted": {"type": "integer", "description": "1, or 0 if it was already gone"},
        "index_version": {"type": "integer"}}},
    "Explanation": {"type": "object", "required": ["query", "id", "collection", "title", "score", "passage", "text", "passage_start",
                                                   "baseline", "truncated", "took_ms", "query_words", "passage_words"],
                    "description": "why a document is a dense result: its passage's words aligned with the query's by the model's "
                                   "contextual token vectors (word pieces merged into words; stop words and punctuation left out)",
                    "properties": {
        "query": {"type": "string"}, "id": {"type": "string"}, "collection": {"type": "string"}, "title": {"type": "string"},
        "score": {"type": "number", "description": "query vector · the passage's vector: the cosine the dense search ranks by"},
        "passage": {"type": "array", "items": {"type": "integer"}, "description": "the passage's [start, end) in the document's text"},
        "text": {"type": "string", "description": "what was encoded: the title, a newline, the passage"},
        "passage_start": {"type": "integer", "description": "where the passage begins in text"},
        "baseline": {"type": "number", "description": "the median cosine of all query-word/passage-word pairs: strength 0"},
        "truncated": {"type": "boolean", "description": "the query or passage was longer than the model reads; the rest is not aligned"},
        "took_ms": {"type": "number"},
        "query_words": {"type": "array", "items": {"type": "object", "required": ["text", "start", "end", "matches"], "properties": {
            "text": {"type": "string"}, "start": {"type": "integer"}, "end": {"type": "integer", "description": "[start, end) in query"},
            "matches": {"type": "array", "description": "the closest passage words, best first", "items": {
                "type": "object", "required": ["word", "similarity", "strength", "shade"], "properties": {
                    "word": {"type": "integer", "description": "position in passage_words"},
                    "similarity": {"type": "number", "description": "cosine of the two words' contextual vectors"},
                    "strength": {"type": "number", "description": "the cosine rescaled: (cosine - baseline) / (1 - baseline), in [0, 1]"},
                    "shade": {"type": "integer", "minimum": 0, "maximum": 4, "description": "the strength as the UI shades it"}}}}}}},
        "passage_words": {"type": "array", "items": {"type": "object", "required": ["text", "start", "end", "strength", "shade"], "properties": {
            "text": {"type": "string"}, "start": {"type": "integer"}, "end": {"type": "integer", "description": "[start, end) in text"},
            "strength": {"type": "number", "description": "the best strength against any query word"},
            "shade": {"type": "integer", "minimum": 0, "maximum": 4, "description": "how strongly the UI shades it; 0: not at all"}}}}}},
    "Health": {"type": "object", "required": ["status", "problems", "chunks", "index_version"], "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"],
                   "description": "degraded: the saved index is damaged or missing and searches are served from what this "
                                  "process holds (an older version, or an index rebuilt from the store); see problems"},
        "problems": {"type": "array", "items": {"type": "string"}, "description": "one line per problem; empty when ok"},
        "chunks": {"type": "integer", "description": "vectors in the index being served"},
        "index_version": {"type": "integer", "description": "the last saved version loaded whole"},
        "index_type": {"type": "string"}, "model": {"type": "string"}, "dim": {"type": "integer"}}},
}


def expansion_default(setting: str) -> str:
    """What `expand=` defaults to in each BM25 mode under the QUERY_EXPANSION setting (indexer/expansion.py)."""
    return ", ".join(f"{str(expands(setting, mode)).lower()} in {mode} mode" for mode in ("lexical", "hybrid"))


def openapi_document(config: Mapping) -> dict:
    search_parameters = [
        {"name": "q", "in": "query", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": config["MAX_QUERY_CHARS"]}},
        {"name": "k", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": config["MAX_K"], "default": 10}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": config["MAX_OFFSET"], "default": 0}},
        {"name": "mode", "in": "query", "schema": {"type": "string", "enum": list(MODES), "default": config["SEARCH_MODE"]}},
        {"name": "bm25", "in": "query", "schema": {"type": "string", "enum": list(BM25_UNITS), "default": config["BM25_UNIT"]},
         "description": "what BM25 ranks in lexical and hybrid modes: whole documents, or passages (a document by its best)"},
        {"name": "expand", "in": "query", "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
         "description": "in lexical and hybrid modes, expand BM25's query by the words of its top texts for it (pseudo-relevance "
                        f"feedback, RM3); default: {expansion_default(config['QUERY_EXPANSION'])}; repeated, the last value counts"},
        {"name": "rerank", "in": "query", "schema": {"type": "string", "enum": ["true", "false", "1", "0"],
                                                     "default": "true" if config["RERANK"] else "false"},
         "description": "rescore the top rerank_depth results with the cross-encoder reranker (400 rerank_unavailable "
                        "where this server has none); repeated, the last value counts"},
        {"name": "rerank_depth", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RERANK_DEPTH, "default": config["RERANK_DEPTH"]},
         "description": "how many of the mode's first results the reranker rescores, when reranking"},
        {"name": "collection", "in": "query", "schema": _COLLECTION_SCHEMA},
        {"name": "filter", "in": "query", "style": "form", "explode": True,
         "schema": {"type": "object", "additionalProperties": {"type": "string"}},
         "description": "metadata filters written filter.FIELD=VALUE; repeat a field to accept any of several values"},
    ]
    limit_errors = {"414": _error(f"uri_too_long: a URL over {config['MAX_URL_BYTES']:,} bytes"),
                    "431": _error(f"headers_too_large: headers over {config['MAX_HEADER_BYTES']:,} bytes")}
    upsert_body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["documents"], "properties": {
            "collection": _COLLECTION_SCHEMA | {"default": "default"},
            "documents": {"type": "array", "minItems": 1, "maxItems": config["MAX_BATCH_DOCUMENTS"],
                          "items": {"$ref": "#/components/schemas/DocumentInput"}}}}}}}
    wait = {"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS, "default": 0},
            "description": "seconds to wait for the job to finish before answering"}
    queued = {"202": _ok("Job", "queued: follow status_url (Location)"), "200": _ok("Job", "finished within ?wait=")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "bertsearch", "version": "1", "description": _DESCRIPTION},
        "paths": {
            "/api/search": {"get": {"summary": "Search documents", "parameters": search_parameters, "responses": {
                "200": _ok("SearchResponse"),
                "400": _error("a bad parameter: empty_query, query_too_long, invalid_parameter; or rerank_unavailable"),
                "404": _error("unknown_collection: no collection of that name"), **limit_errors}}},
            "/api/documents": {"post": {"summary": "Add or replace documents (upsert by id), through the write queue", "security": _BEARER,
                                        "parameters": [wait], "requestBody": upsert_body, "responses": {
                **queued,
                "400": _error(f"invalid_json (not JSON, NaN or Infinity, nested over {MAX_JSON_DEPTH} levels), invalid_body, "
                              "too_many_documents, invalid_document (every problem named as documents[i]: reason), or a bad wait"),
                "413": _error(f"a body over {config['MAX_CONTENT_LENGTH']:,} bytes"), **_WRITE_ERRORS, **limit_errors}}},
            "/api/documents/{id}": {
                "get": {"summary": "One document", "parameters": [_ID, _COLLECTION], "responses": {
                    "200": _ok("Document"), "404": _error(_NOT_FOUND), "409": _error("the id exists in several collections"),
                    **limit_errors}},
                "delete": {"summary": "Delete one document, through the write queue", "security": _BEARER,
                           "parameters": [_ID, _COLLECTION, wait], "responses": {
                    **queued, "400": _error("a bad wait"), "404": _error(_NOT_FOUND),
                    "409": _error("the id exists in several collections"), **_WRITE_ERRORS, **limit_errors}}},
            "/api/jobs/{id}": {"get": {"summary": "A queued write: queued, running, done (with its counts) or failed", "security": _BEARER,
                                       "parameters": [_JOB_ID, wait], "responses": {
                "200": _ok("Job"), "400": _error("a bad wait"), "404": _error("no such job"), **_WRITE_ERRORS, **limit_errors}}},
            "/api/explain": {"get": {"summary": "Why a document is a result for a query: its passage's words aligned with the query's",
                                     "parameters": [search_parameters[0], {**_ID, "in": "query"}, _COLLECTION], "responses": {
                "200": _ok("Explanation"), "400": _error("empty_query, query_too_long, or invalid_parameter (no id)"),
                "404": _error(_NOT_FOUND), "409": _error("the id exists in several collections"), **limit_errors}}},
            "/api/health": {"get": {"summary": "Liveness, index version and integrity", "responses": {"200": _ok("Health")}}},
            "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
        },
        "components": {"schemas": _SCHEMAS, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }

"""The JSON API under /api (its contract: DESIGN.md and `/api/openapi.json`)."""

from __future__ import annotations

import hmac
import json

from flask import Blueprint, current_app, jsonify, request

from indexer.readers import FieldMap, Record, parse_record
from indexer.validation import collection_problem

from . import search_service, writes
from .errors import ApiError
from .openapi import openapi_document
from .params import parse_search_params
from .search import AmbiguousDocument, StoredDocument

blueprint = Blueprint("api", __name__)
MAX_COLLECTION_CHARS = 200
SHOWN_PROBLEMS = 10


@blueprint.get("/search")
def search():
    params = parse_search_params(request.args, current_app.config)
    results = search_service().search(params.query, params.mode, params.k, params.offset, params.filters)
    return jsonify(results.as_json() | {"k": params.k, "offset": params.offset})


@blueprint.get("/documents/<path:document_id>")
def get_document(document_id: str):
    return jsonify(_find(document_id).as_json())


@blueprint.post("/documents")
def upsert_documents():
    _authorize()
    collection, records = _parse_upsert(request.get_data(cache=False))
    report, version = writes.upsert_documents(current_app.config, collection, records)
    return jsonify({"collection": collection, "added": report.added, "updated": report.updated,
                    "unchanged": report.unchanged, "chunks": report.chunks, "index_version": version})


@blueprint.delete("/documents/<path:document_id>")
def delete_document(document_id: str):
    _authorize()
    document = _find(document_id)
    version = writes.delete_document(current_app.config, document.id, document.collection)
    return jsonify({"deleted": document.id, "collection": document.collection, "index_version": version})


@blueprint.get("/health")
def health():
    service = search_service()
    service.refresh()
    index = service.index
    return jsonify({"status": "ok", "chunks": len(index.vectors), "index_version": index.loaded_version,
                    "index_type": index.vectors.index_type, "model": index.model.name, "dim": index.vectors.dim})


@blueprint.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(current_app.config))


def _find(document_id: str) -> StoredDocument:
    try:
        document = search_service().document(document_id, request.args.get("collection"))
    except AmbiguousDocument as error:
        raise ApiError(409, "ambiguous_id", f"{error}: add ?collection=…") from None
    if document is None:
        where = f" in collection {request.args['collection']!r}" if "collection" in request.args else ""
        raise ApiError(404, "not_found", f"no document with id {document_id!r}{where}")
    return document


def _authorize() -> None:
    """Writes need `Authorization: Bearer <SEARCHAPP_API_TOKEN>`; with no token configured there are none."""
    token = current_app.config["API_TOKEN"]
    if not token:
        raise ApiError(403, "writes_disabled", "writes are disabled on this server: set SEARCHAPP_API_TOKEN to enable them")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ApiError(401, "unauthorized", "this endpoint needs an Authorization: Bearer <token> header")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(403, "forbidden", "the bearer token is not valid")


def _parse_upsert(body: bytes) -> tuple[str, list[Record]]:
    """`{"collection": …, "documents": [{"id", "title", "text", "metadata"?, …}]}`, checked whole
    before anything is written: one bad document refuses the batch, naming every problem found."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_body", 'the body must be a JSON object: {"collection": …, "documents": […]}')
    collection = payload.get("collection", "default")
    if not isinstance(collection, str) or not collection.strip() or len(collection) > MAX_COLLECTION_CHARS:
        raise ApiError(400, "invalid_body", f'"collection" must be a non-empty string of at most {MAX_COLLECTION_CHARS} characters')
    if problem := collection_problem(collection.strip()):  # refused here, or IndexConfig would refuse it mid-request
        raise ApiError(400, "invalid_body", f'"collection": {problem}')
    documents = payload.get("documents")
    limit = current_app.config["MAX_BATCH_DOCUMENTS"]
    if not isinstance(documents, list) or not documents:
        raise ApiError(400, "invalid_body", '"documents" must be a non-empty list of documents')
    if len(documents) > limit:
        raise ApiError(400, "too_many_documents", f"{len(documents):,} documents in one request; the limit is {limit:,}")
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
    return collection.strip(), records

"""The JSON API under /api (its contract: DESIGN.md and `/api/openapi.json`)."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request, url_for

from indexer import jobs
from indexer.readers import FieldMap, Record, parse_record
from indexer.search import AmbiguousDocument
from indexer.store import StoredDocument
from indexer.validation import collection_problem

from . import search_service, writes
from .errors import ApiError
from .openapi import openapi_document
from .params import parse_search_params, run_search
from .strict_json import load_body

blueprint = Blueprint("api", __name__)
SHOWN_PROBLEMS = 10


@blueprint.get("/search")
def search():
    params = parse_search_params(request.args, current_app.config)
    results = run_search(search_service(), params)
    return jsonify(results.as_json() | {"k": params.k, "offset": params.offset})


@blueprint.get("/documents/<path:document_id>")
def get_document(document_id: str):
    return jsonify(_find(document_id).as_json())


@blueprint.post("/documents")
def upsert_documents():
    _authorize()
    wait = _wait_seconds()
    collection, records = _parse_upsert(request.get_data(cache=False))
    return _job_response(jobs.enqueue_upsert(_store(), collection, records).id, wait)


@blueprint.delete("/documents/<path:document_id>")
def delete_document(document_id: str):
    _authorize()
    wait = _wait_seconds()
    document = _find(document_id)
    return _job_response(jobs.enqueue_delete(_store(), document.collection, document.id).id, wait)


@blueprint.get("/jobs/<int:job_id>")
def job(job_id: int):
    _authorize()
    return _job_response(job_id, _wait_seconds(), pending_status=200)


def _store():
    return search_service().index.store


def _wait_seconds() -> float:
    """`?wait=SECONDS`: how long the request may wait for its job to finish (0, the default: not at all)."""
    given = request.args.get("wait", "0")
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= writes.MAX_WAIT_SECONDS:  # also refuses nan
        raise ApiError(400, "invalid_parameter", f"wait must be a number of seconds from 0 to {writes.MAX_WAIT_SECONDS}, not {given!r}")
    return seconds


def _job_response(job_id: int, wait: float, pending_status: int = 202):
    """The job, as soon as it has finished or `wait` has passed: 200 once finished (done or failed),
    else `pending_status` with where to ask again."""
    status = writes.wait_for(_store(), job_id, wait)
    if status is None:
        raise ApiError(404, "not_found", f"no job {job_id}")
    url = url_for("api.job", job_id=job_id)
    response = jsonify(status.as_json() | {"status_url": url})
    response.status_code = 200 if status.finished else pending_status
    if response.status_code == 202:
        response.headers["Location"] = url
    return response


@blueprint.get("/health")
def health():
    """200 even when degraded: the process still answers searches (from the store where the saved
    index is damaged), so a load balancer must not take it out of rotation; monitoring reads `status`."""
    service = search_service()
    service.refresh()
    index = service.index
    problems = index.serving_problems()
    return jsonify({"status": "degraded" if problems else "ok", "problems": problems, "chunks": len(index.vectors),
                    "index_version": index.loaded_version, "index_type": index.vectors.index_type,
                    "model": index.model.name, "dim": index.vectors.dim})


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
    if not hmac.compare_digest(_sent_bytes(given.strip()), token.encode()):
        raise ApiError(403, "forbidden", "the bearer token is not valid")


def _sent_bytes(header_value: str) -> bytes:
    """The bytes a client sent, to compare with the token's UTF-8 (so that a token can hold any
    character): WSGI servers hand headers over decoded as Latin-1 (PEP 3333); a value beyond Latin-1
    can only come from an in-process caller such as a test client, and is taken as UTF-8."""
    try:
        return header_value.encode("latin-1")
    except UnicodeEncodeError:
        return header_value.encode()


def _parse_upsert(body: bytes) -> tuple[str, list[Record]]:
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
    return collection, records

"""The JSON API under /api (its contract: DESIGN.md and `/api/openapi.json`)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for

from indexer import jobs
from indexer.explain import explain
from indexer.search import AmbiguousDocument
from indexer.store import StoredDocument
from indexer.validation import collection_problem, id_problem

from . import writes
from .access import sent_bytes, token_matches
from .errors import ApiError
from .openapi import openapi_document
from .params import parse_query, parse_search_params, parse_upsert, run_search, wait_seconds
from .service import health_report, search_service

blueprint = Blueprint("api", __name__)


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
    wait = wait_seconds(request.args)
    collection, records = parse_upsert(request.get_data(cache=False), current_app.config["MAX_BATCH_DOCUMENTS"])
    return _job_response(jobs.enqueue_upsert(_store(), collection, records).id, wait)


@blueprint.delete("/documents/<path:document_id>")
def delete_document(document_id: str):
    _authorize()
    wait = wait_seconds(request.args)
    document = _find(document_id)
    return _job_response(jobs.enqueue_delete(_store(), document.collection, document.id).id, wait)


@blueprint.get("/jobs/<int:job_id>")
def job(job_id: int):
    _authorize()
    return _job_response(job_id, wait_seconds(request.args), pending_status=200)


def _store():
    return search_service().index.store


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


@blueprint.get("/explain")
def explain_result():
    """Why document `id` is a result for `q`: its passage's words aligned with the query's
    (indexer/explain.py). Computed on demand, per result, never by the search itself."""
    query = parse_query(request.args, current_app.config)
    document_id, collection = request.args.get("id", ""), request.args.get("collection")
    if not document_id:
        raise ApiError(400, "invalid_parameter", "which result? pass the document's id as id=…")
    if problem := id_problem(document_id) or (collection_problem(collection) if collection is not None else None):
        raise ApiError(404, "not_found", f"no such document: {problem}")
    explanation = explain(search_service().index, _find(document_id), query)
    if explanation is None:
        raise ApiError(404, "not_found", f"document {document_id!r} has no passage to explain")
    return jsonify(explanation.as_json())


@blueprint.get("/health")
def health():
    """200 even when degraded: the process still answers searches (from the store where the saved
    index is damaged), so a load balancer must not take it out of rotation; monitoring reads `status`."""
    return jsonify(health_report(search_service()))


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
    if not token_matches(sent_bytes(given.strip()), token):
        raise ApiError(403, "forbidden", "the bearer token is not valid")


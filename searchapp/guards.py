"""What every request passes before its route runs, and what every response carries after, whatever
answered it: UI, API, static files or an error handler.

Before: a URL or headers over the app's limits are refused here, as JSON under /api, because gunicorn's
own refusals are HTML pages (gunicorn.conf.py raises its limits so that requests get this far). An id
or collection name in a lookup URL that no document can have is a 404 at once: it never reaches the
database, where PostgreSQL would fail on a NUL byte and over-long ids.

After: security headers. The UI runs no inline script or style and loads only its own files, so the
policy allows nothing else (a same-origin script would still load), and no page may be framed.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask, Response, current_app, request

from indexer.validation import collection_problem, id_problem

from .errors import ApiError

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def register(app: Flask) -> None:
    app.before_request(refuse_oversized_request)
    app.before_request(refuse_impossible_lookup)
    app.after_request(add_security_headers)


def refuse_oversized_request() -> None:
    """414 for a URL, 431 for headers over the configured limits (bytes as they came on the wire)."""
    config = current_app.config
    environ = request.environ  # gunicorn and werkzeug keep the URL as sent; other servers, rebuild it
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or f"{quote(request.path)}?{environ.get('QUERY_STRING', '')}"
    if len(target) > config["MAX_URL_BYTES"]:
        raise ApiError(414, "uri_too_long", f"the URL has {len(target):,} bytes; the limit is {config['MAX_URL_BYTES']:,}")
    header_bytes = sum(len(name) + len(value) + 4 for name, value in request.headers.items())  # "name: value\r\n"
    if header_bytes > config["MAX_HEADER_BYTES"]:
        raise ApiError(431, "headers_too_large", f"the request headers have {header_bytes:,} bytes; the limit is {config['MAX_HEADER_BYTES']:,}")


def refuse_impossible_lookup() -> None:
    """404 for a route's `document_id` (with its `collection`, from the path or `?collection=`) that
    breaks indexer.validation's rules: no document can have it, so none is looked for."""
    arguments = request.view_args or {}
    if "document_id" not in arguments:
        return
    collection = arguments.get("collection", request.args.get("collection"))
    problem = id_problem(arguments["document_id"]) or (collection_problem(collection) if collection is not None else None)
    if problem:
        raise ApiError(404, "not_found", f"no such document: {problem}")


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response

"""Errors as the caller can act on them: JSON `{"error": {"code", "message"}}` with a 4xx status under
`/api`, a page with the message in the UI, and never a stack trace (those go to the server's log)."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """A request the server refuses, with the status, a stable code and a message for a person."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    response = jsonify({"error": {"code": code, "message": message}})
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="searchapp"'
    return response, status


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        if _wants_json():
            return error_response(error.status, error.code, error.message)
        return render_template("error.html", status=error.status, message=error.message), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        message = {413: f"the request body is larger than {app.config['MAX_CONTENT_LENGTH']:,} bytes",
                   404: "no such page", 405: f"{request.method} is not allowed here"}.get(error.code, error.description)
        if _wants_json():
            return error_response(error.code or 500, code, message)
        return render_template("error.html", status=error.code, message=message), error.code

    @app.errorhandler(Exception)
    def internal_error(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        message = "the server failed to answer this request; the error is in its log"
        if _wants_json():
            return error_response(500, "internal_error", message)
        return render_template("error.html", status=500, message=message), 500

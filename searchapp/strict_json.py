"""JSON as RFC 8259 defines it, both ways: request bodies are refused (400 `invalid_json`) when they hold
what JSON has no word for, and responses can never hold NaN or Infinity, which strict clients
(browsers' `JSON.parse`, Go, Java) refuse to read.

Python's `json` accepts `NaN`, `Infinity` and `-Infinity` and writes them back out; it also parses
nesting until the interpreter's recursion limit (about 1,000 levels) and then raises
RecursionError, which no handler expected.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from flask.json.provider import DefaultJSONProvider

from .errors import ApiError

# A document's body nests 4 levels (body, documents, document, metadata) plus its metadata's own, which
# indexer.validation bounds at 8: 32 leaves room for clients that wrap it, none for a recursion attack.
MAX_JSON_DEPTH = 32

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_TOO_DEEP = f"the body is not valid JSON here: it nests deeper than {MAX_JSON_DEPTH} levels"
log = logging.getLogger(__name__)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def load_body(body: bytes) -> Any:
    """The request body parsed as UTF-8 JSON, or ApiError 400 `invalid_json` saying what is wrong."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise ApiError(400, "invalid_json", _TOO_DEEP) from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, NaN, integers over 4,300 digits
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {error}") from None
    if _deeper_than(body, MAX_JSON_DEPTH):
        raise ApiError(400, "invalid_json", _TOO_DEEP)
    return value


def _deeper_than(body: bytes, limit: int) -> bool:
    """Whether the brackets of `body` (JSON that parsed, so balanced) nest deeper than `limit`, in C-speed
    byte operations (a few passes over the body, none per character in Python): escapes and strings are dropped,
    braces become brackets, then each round removes the innermost pairs, exactly one level a round."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")  # no quote inside a string is left
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    brackets = outside_strings.translate(_AS_SQUARE, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON with NaN and Infinity refused on the way in and never written on the way out."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs["allow_nan"] = False
        try:
            return super().dumps(obj, **kwargs)
        except ValueError:
            # Only data stored before the rules held can get here (a NaN in old SQLite metadata):
            # answer with null in its place rather than fail the whole request.
            log.warning("a response held NaN or Infinity; written as null")
            return super().dumps(_finite(obj), **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _refuse_constant)
        return super().loads(s, **kwargs)


def _finite(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value

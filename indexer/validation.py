"""The rules every document obeys, checked once at the boundary (API bodies, CLI readers, the store).

The same rules hold on SQLite and PostgreSQL, so an instance can move between them and a document
accepted by one is accepted by the other: PostgreSQL refuses NUL bytes in text and lone UTF-16
surrogates cannot be encoded at all, while SQLite would store both and fail later, on read or in JSON.

- Text and title are *normalised*: a lone surrogate becomes U+FFFD and control characters other than
  tab, newline and carriage return are dropped. They carry no meaning a search could use, and
  refusing a whole document over one stray byte would lose more than it protects.
- A text longer than a size limit (`DEFAULT_MAX_DOCUMENT_CHARS` unless configured) is refused: past
  it, a "document" is a collection glued together, whose passages no snippet or title can place.
- Ids, collection names and metadata are *validated*: they are keys a program reads back, so changing
  them silently would break its lookups. A bad one is refused with a reason naming the field.
"""

from __future__ import annotations

import math
import re
from typing import Any

# An id is echoed in URLs (/api/documents/<id>, the UI's document pages): percent-encoded, 512 bytes
# stays far below the 4,094-byte request line that gunicorn (and most proxies) accept.
MAX_ID_BYTES = 512
MAX_COLLECTION_CHARS = 64
COLLECTION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
COLLECTION_RULE = f"1 to {MAX_COLLECTION_CHARS} letters, digits, '_', '.' or '-', starting with a letter or digit"
MAX_METADATA_DEPTH = 8
DEFAULT_MAX_DOCUMENT_CHARS = 1_000_000  # about 250 pages: beyond that a "document" is a collection

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_KEY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class InvalidValue(ValueError):
    """A value that breaks one of the rules; the message says which field and why."""


def clean_text(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD and control characters (except tab, newline and
    carriage return) removed; every other character, Unicode included, is kept as it is."""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return _CONTROL.sub("", text) if _CONTROL.search(text) else text


def id_problem(external_id: str) -> str | None:
    """Why `external_id` cannot be a document id, or None when it can."""
    if not external_id.strip():
        return "the id is empty"
    if _KEY_CONTROL.search(external_id):
        return "the id holds a control character or a lone surrogate"
    if len(external_id.encode("utf-8")) > MAX_ID_BYTES:
        return f"the id is longer than {MAX_ID_BYTES} bytes of UTF-8"
    return None


def collection_problem(name: str) -> str | None:
    """Why `name` cannot be a collection name, or None when it can. Names appear in URL paths
    (`/documents/<collection>/<id>`), hence no '/' and nothing that needs escaping there."""
    if len(name) <= MAX_COLLECTION_CHARS and COLLECTION_PATTERN.fullmatch(name):
        return None
    return f"collection name {name[:80]!r} is not valid: use {COLLECTION_RULE}"


def checked_collection(name: str) -> str:
    """`name`, if it can be a collection name; else InvalidValue, for callers that must refuse it
    before anything is written."""
    problem = collection_problem(name)
    if problem:
        raise InvalidValue(problem)
    return name


def size_problem(chars: int, limit: int) -> str | None:
    """Why a text of `chars` characters is too large, or None when it is not."""
    return f"the text has {chars:,} characters; the limit is {limit:,} (--max-chars)" if chars > limit else None


def clean_metadata(metadata: dict[str, Any], field: str = "metadata") -> dict[str, Any]:
    """`metadata` with its strings (keys and values) cleaned like text. Refuses what JSON cannot carry
    back to a strict client (NaN, infinities) and nesting deeper than MAX_METADATA_DEPTH."""
    return _clean_value(metadata, field, 0)


def _clean_value(value: Any, field: str, depth: int) -> Any:
    if depth > MAX_METADATA_DEPTH:
        raise InvalidValue(f"{field}: nested more than {MAX_METADATA_DEPTH} levels deep")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValue(f"{field}: {value} is not a finite number, which JSON cannot represent")
    if isinstance(value, dict):
        return {clean_text(str(key)): _clean_value(item, f"{field}.{key}", depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_value(item, f"{field}[{i}]", depth + 1) for i, item in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise InvalidValue(f"{field}: a {type(value).__name__} is not a JSON value")

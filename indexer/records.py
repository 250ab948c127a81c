"""A document as it comes in (from a file, an API body or code), and the rules it is held to there.

Every reader and the API build their records through `parse_record` or `check_record`, so a bad
record is refused with the same reason, named as `origin: reason`, whichever way it came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .validation import DEFAULT_MAX_DOCUMENT_CHARS, InvalidValue, clean_metadata, clean_text, id_problem, size_problem

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


@dataclass
class Record:
    """One input document, before it is chunked and stored."""

    external_id: str
    title: str
    text: str
    metadata: dict
    origin: str


@dataclass(frozen=True)
class FieldMap:
    """Which input fields hold the id, title and text; collections name them as they please."""

    id: str = "id"
    title: str = "title"
    text: str = "text"


class InputError(Exception):
    """A bad record in strict mode; the message is `path:line: reason`, the same line on_bad gets."""

    @classmethod
    def at(cls, origin: str, reason: str) -> InputError:
        return cls(f"{origin}: {reason}")


def json_type(value: Any) -> str:
    """JSON's name for a value's type: the words the person who wrote the file knows."""
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def parse_record(value: dict[str, Any], fields: FieldMap, origin: str,
                 max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> Record | InputError:
    """A validated record from a parsed JSON object or CSV row, so that both report the same reasons.
    A null counts as absent, as data-frame exports write missing values. A nested `metadata` object
    (BEIR's) is merged into the other fields rather than kept as one opaque field."""
    problem = (
        _field_problem(value, fields.id, (str, int), required=True)
        or _field_problem(value, fields.text, (str,), required=True)
        or _field_problem(value, fields.title, (str,), required=False)
    )
    if problem:
        return InputError.at(origin, problem)
    metadata = {key: item for key, item in value.items() if key not in (fields.id, fields.title, fields.text)}
    if isinstance(metadata.get("metadata"), dict):
        metadata.update(metadata.pop("metadata"))
    record = Record(str(value[fields.id]), value.get(fields.title) or "", value[fields.text], metadata, origin)
    return check_record(record, max_chars)


def check_record(record: Record, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> Record | InputError:
    """`record` held to the document rules of indexer/validation.py, cleaned; or why it breaks them.
    The one boundary: files and API bodies reach it through parse_record, and `index_records` applies
    it to records built in code, so a document is stored by the same rules whoever made it."""
    problem = _shape_problem(record) or id_problem(record.external_id) or size_problem(len(record.text), max_chars)
    if problem:
        return InputError.at(record.origin, problem)
    try:
        metadata = clean_metadata(record.metadata)
    except InvalidValue as error:
        return InputError.at(record.origin, str(error))
    text = clean_text(record.text)
    if not text.strip():  # tested once cleaned, so that a second check gives the same answer
        return InputError.at(record.origin, "the text is empty")
    return Record(record.external_id, clean_text(record.title), text, metadata, record.origin)


def _shape_problem(record: Record) -> str | None:
    """What a record built in code (not parsed, so unchecked by type) has of the wrong kind."""
    for name, value, kind in (("id", record.external_id, str), ("title", record.title, str),
                              ("text", record.text, str), ("metadata", record.metadata, dict)):
        if not isinstance(value, kind):
            expected = _JSON_TYPES[kind]
            return f"the {name} must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, not {json_type(value)}"
    return None


def _field_problem(value: dict[str, Any], name: str, kinds: tuple[type, ...], required: bool) -> str | None:
    item = value.get(name)
    if item is None:
        return f'missing "{name}"' if required else None
    if not isinstance(item, kinds) or isinstance(item, bool):
        expected = " or ".join(_JSON_TYPES[kind] for kind in kinds)
        return f'"{name}" must be a {expected}, not {json_type(item)}'
    if required and not str(item).strip():
        return f'empty "{name}"'
    return None

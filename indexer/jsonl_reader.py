"""JSON-lines collections (BEIR corpora among them): one JSON object a line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .record_spans import decoded, spans
from .records import FieldMap, InputError, Record, json_type, parse_record


def read_jsonl(path: Path, fields: FieldMap, max_chars: int) -> Iterator[Record | InputError]:
    """A record, or why there is none, for each line that is not blank."""
    for span in spans(path, max_chars):
        line = decoded(path, span, max_chars)
        if isinstance(line, InputError):
            yield line
        elif line.strip():
            yield _parse_json(line.rstrip("\r\n"), fields, f"{path}:{span.line}", max_chars)


def _parse_json(line: str, fields: FieldMap, origin: str, max_chars: int) -> Record | InputError:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return InputError.at(origin, f"invalid JSON: {error.msg} at column {error.colno}")
    if not isinstance(value, dict):
        return InputError.at(origin, f"not a JSON object but {json_type(value)}")
    return parse_record(value, fields, origin, max_chars)

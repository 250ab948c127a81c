"""Input collections written for the reader tests, and what reading them gives."""

from __future__ import annotations

from pathlib import Path

from indexer.readers import Record, read_records

GOOD = '{"id": "good", "text": "A fine document."}'


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def read(*paths: Path, **options) -> tuple[list[Record], list[str]]:
    """Every good record and every bad-record message, in order."""
    bad: list[str] = []
    records = list(read_records(list(paths), on_bad=bad.append, **options))
    return records, bad

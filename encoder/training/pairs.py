"""A training pair, and the JSON-lines file that carries pairs to a machine without the raw data sets."""

from __future__ import annotations

import json
import lzma
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from .corpus import json_lines


@dataclass(frozen=True)
class Pair:
    """One training example: `query` should embed closer to `positive` than to the other texts of its
    batch, and closer to `negative` (a text that looks relevant but is not) when there is one."""

    query: str
    positive: str
    source: str
    negative: str | None = None


def row_fields(row: dict[str, Any], *names: str) -> tuple[str, ...] | None:
    """The named fields of a row, stripped; None when any is missing or empty, which is how a malformed
    line is recognised and skipped."""
    values = tuple(str(row.get(name) or "").strip() for name in names)
    return values if all(values) else None


def distinct_pairs(pairs: Iterable[Pair]) -> Iterator[Pair]:
    """Pairs worth a training step: a text paired with itself teaches nothing, and a repeated (query,
    positive) would weigh twice and, landing in one batch, serve as its own false negative."""
    seen: set[tuple[str, str]] = set()
    for pair in pairs:
        key = (pair.query, pair.positive)
        if pair.query != pair.positive and key not in seen:
            seen.add(key)
            yield pair


def write_json_lines(records: Iterable[dict[str, Any]], path: Path) -> int:
    """Save records as JSON lines (xz-compressed when the name ends in .xz); returns how many were
    written. The file appears whole under its name or not at all (`atomic_write`), so a reader never
    meets one cut short."""
    opener = lzma.open if Path(path).suffix == ".xz" else open
    count = 0

    def write(temporary: Path) -> None:
        nonlocal count
        with opener(temporary, "wt", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
                count += 1

    atomic_write(Path(path), write)
    return count


def write_pairs(pairs: Iterable[Pair], path: Path) -> int:
    """Save pairs so that a machine without the raw data sets (the GPU machine) can train on them."""
    return write_json_lines(({"query": p.query, "positive": p.positive, "source": p.source, "negative": p.negative} for p in pairs), path)


def read_pairs(path: Path) -> Iterator[Pair]:
    """Pairs saved by `write_pairs`."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such pairs file")
    for record in json_lines(path):
        fields = row_fields(record, "query", "positive")
        if fields:
            yield Pair(*fields, source=str(record.get("source") or Path(path).name), negative=record.get("negative") or None)

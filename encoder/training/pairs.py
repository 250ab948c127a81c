"""A training pair, and the JSON-lines file that carries pairs to a machine without the raw data sets."""

from __future__ import annotations

import json
import lzma
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from .corpus import json_object, text_lines


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


def write_pairs(pairs: Iterable[Pair], path: Path) -> int:
    """Save pairs as JSON lines (xz-compressed when the name ends in .xz), so a machine without the raw
    data sets (the GPU machine) can train on them; returns how many were written. The file appears
    whole under its name or not at all (`atomic_write`), so a reader never meets one cut short.

    Passages are written once, by reference: the first pair that uses a text is preceded by a line
    `{"passage": n, "text": ...}` and every pair names it as `n`. Mined hard negatives are mostly other
    pairs' passages, and one query's negatives repeat its positive on every line, so by reference a file
    of reranker groups is a fifth of its size (5.2 MiB against 25.4 for 31,221 groups of seven negatives)."""
    opener = lzma.open if Path(path).suffix == ".xz" else open
    count = 0
    numbers: dict[str, int] = {}

    def number(text: str | None, handle) -> int | None:
        if text is None:
            return None
        if text not in numbers:
            numbers[text] = len(numbers)
            handle.write(json.dumps({"passage": numbers[text], "text": text}) + "\n")
        return numbers[text]

    def write(temporary: Path) -> None:
        nonlocal count
        with opener(temporary, "wt", encoding="utf-8") as handle:
            for pair in pairs:
                positive, negative = number(pair.positive, handle), number(pair.negative, handle)
                handle.write(json.dumps({"query": pair.query, "positive": positive, "source": pair.source, "negative": negative}) + "\n")
                count += 1

    atomic_write(Path(path), write)
    return count


def read_pairs(path: Path) -> Iterator[Pair]:
    """Pairs saved by `write_pairs`, or written by hand with their texts in place of passage numbers. A
    line that is not a JSON object, or lacks a query or positive, is skipped; a number no passage line
    above it defined is an error that names the file and the line, since the file is then not what was written."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such pairs file")
    passages: dict[int, str] = {}
    for line_number, line in enumerate(text_lines(path), 1):
        record = json_object(line)
        if record is None:
            continue
        if "passage" in record:
            passages[record["passage"]] = str(record.get("text") or "")
            continue
        try:
            texts = {key: passages[record[key]] for key in ("positive", "negative") if isinstance(record.get(key), int)}
        except KeyError as missing:
            raise ValueError(f"{path}, line {line_number}: passage {missing} is not defined above it") from None
        record.update(texts)
        fields = row_fields(record, "query", "positive")
        if fields:
            yield Pair(*fields, source=str(record.get("source") or Path(path).name), negative=record.get("negative") or None)

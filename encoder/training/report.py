"""Figures as a markdown table that also reads well in a terminal: what every evaluation command prints
and what docs/benchmarks.md holds."""

from __future__ import annotations

from collections.abc import Sequence


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else str(value)


def format_table(rows: dict[str, dict[str, float]], columns: Sequence[str]) -> str:
    """A markdown table, one row per name, padded so it also reads well in a terminal; metrics to two
    decimals, counts as integers, a missing value left blank."""
    table = [["", *columns]] + [[name, *(_cell(values.get(c)) for c in columns)] for name, values in rows.items()]
    widths = [max(3, *(len(row[i]) for row in table)) for i in range(len(table[0]))]
    rule = [":" + "-" * (widths[0] - 1)] + ["-" * (w - 1) + ":" for w in widths[1:]]
    return "\n".join(
        "| " + " | ".join([line[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(line[1:], widths[1:]))]) + " |"
        for line in [table[0], rule, *table[1:]]
    )

"""Which pairs a run trains on: chosen by source, and never one that an evaluation set holds."""

from __future__ import annotations

from pathlib import Path

from .evaluation import STS_SETS
from .pairs import Pair


def select_sources(pairs: list[Pair], prefixes: tuple[str, ...]) -> list[Pair]:
    """The pairs whose source `source_named` by the prefixes: how a stage or an ablation names its data."""
    return [p for p in pairs if source_named(p.source, prefixes)]


def source_named(source: str, prefixes: tuple[str, ...]) -> bool:
    """Whether `source` starts with one of the plain prefixes (any, when there are none) and with none of
    the "!"-marked ones ("!mined:" = all but mined)."""
    wanted = tuple(p for p in prefixes if not p.startswith("!"))
    unwanted = tuple(p[1:] for p in prefixes if p.startswith("!"))
    return (not wanted or source.startswith(wanted)) and not (unwanted and source.startswith(unwanted))


def evaluation_pairs(data_dir: Path) -> set[frozenset[str]]:
    """Every sentence pair of the STS evaluation sets present under data_dir, order-free and lower-cased."""
    held_out: set[frozenset[str]] = set()
    for name, (reader, relative) in STS_SETS.items():
        if (data_dir / relative).is_file():
            held_out.update(pair_key(a, b) for a, b, _ in reader(data_dir / relative))
    return held_out


def pair_key(a: str, b: str) -> frozenset[str]:
    """Two sentences as a pair that is the same in either order, case and surrounding space."""
    return frozenset((a.strip().lower(), b.strip().lower()))

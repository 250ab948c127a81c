"""One training mix from many pair sources: capped per source, de-duplicated, free of evaluation texts.

A contrastive batch learns what its pairs have in common; were one large source (a mined set, SNLI)
most of the mix, the model would learn that source's notion of relatedness, so every source is capped.
A pair whose query or positive is an evaluation text (an STS-B or SICK sentence, a SciFact or NFCorpus
query, test or the dev split used to pick the model) would inflate the very figure that decides whether
the model is worth shipping, so it is dropped; a hard negative that is one loses only the negative.
`redistributable_only` keeps the sources whose licence lets us ship the trained model, and the table of
what each source gave is what the model card prints.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .evaluation import jsonl_records
from .pair_selection import evaluation_pairs
from .pair_sets import licence_of
from .pairs import Pair

# BEIR query files of the retrieval evaluations, relative to the data root.
EVALUATION_QUERY_FILES = ("scifact/queries.jsonl", "nfcorpus/beir_test/queries.jsonl")
# NFCorpus dev queries (ID<TAB>text), used to select the model; what TRAINING must not see either.
SELECTION_QUERY_FILES = tuple(f"nfcorpus/original/dev.{kind}.queries" for kind in ("titles", "vid-titles", "nontopic-titles", "vid-desc"))


@dataclass
class MixConfig:
    """How sources are balanced."""

    cap_per_source: int = 25_000
    redistributable_only: bool = False
    seed: int = 0


@dataclass
class SourceCount:
    """One row of the model card's table of training data."""

    source: str
    licence: str
    redistributable: bool
    read: int = 0
    dropped_evaluation: int = 0
    dropped_duplicate: int = 0
    dropped_cap: int = 0
    kept: int = 0


def normalise(text: str) -> str:
    """The form in which two texts count as the same: case and whitespace do not matter."""
    return " ".join(text.lower().split())


def evaluation_texts(data_dir: Path) -> set[str]:
    """Normalised texts no training pair may contain: every sentence of the STS evaluation sets and
    every query of the retrieval evaluations (and of the NFCorpus dev split) present under data_dir."""
    data_dir = Path(data_dir)
    texts = {normalise(text) for pair in evaluation_pairs(data_dir) for text in pair}
    for relative in EVALUATION_QUERY_FILES:
        if (data_dir / relative).is_file():
            texts.update(normalise(str(record.get("text") or "")) for record in jsonl_records(data_dir / relative))
    for relative in SELECTION_QUERY_FILES:
        if (data_dir / relative).is_file():
            with (data_dir / relative).open(encoding="utf-8") as handle:
                texts.update(normalise(line.partition("\t")[2]) for line in handle if "\t" in line)
    texts.discard("")
    return texts


def mix_pairs(pairs: Iterable[Pair], held_out: set[str], config: MixConfig = MixConfig()) -> tuple[list[Pair], list[SourceCount]]:
    """The mix and its table (one row per source, in order of first appearance). Earlier pairs win a
    tie, so a caller lists its preferred version of a pair (one with a hard negative) first; each
    source then keeps a random `cap_per_source` of its distinct pairs, and the mix is shuffled, both
    with `seed`, so that a run can be repeated."""
    counts: dict[str, SourceCount] = {}
    by_source: dict[str, list[Pair]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for pair in pairs:
        if pair.source not in counts:
            counts[pair.source] = SourceCount(pair.source, *licence_of(pair.source))
        count = counts[pair.source]
        if config.redistributable_only and not count.redistributable:
            continue
        count.read += 1
        query, positive = normalise(pair.query), normalise(pair.positive)
        if query in held_out or positive in held_out:
            count.dropped_evaluation += 1
            continue
        if query == positive or (query, positive) in seen:
            count.dropped_duplicate += 1
            continue
        seen.add((query, positive))
        negative = normalise(pair.negative) if pair.negative is not None else None
        if negative is not None and (negative in held_out or negative in (query, positive)):
            pair = replace(pair, negative=None)
        by_source[pair.source].append(pair)
    rng = random.Random(config.seed)
    mixed: list[Pair] = []
    for source, kept in by_source.items():
        rng.shuffle(kept)
        counts[source].dropped_cap = max(len(kept) - config.cap_per_source, 0)
        counts[source].kept = min(len(kept), config.cap_per_source)
        mixed += kept[: config.cap_per_source]
    rng.shuffle(mixed)
    return mixed, [c for c in counts.values() if c.read]


def write_table(rows: list[SourceCount], path: Path) -> None:
    """The per-source table as JSON, with totals, beside the pairs file it describes."""
    table = {"sources": [asdict(row) for row in rows],
             "total_kept": sum(r.kept for r in rows),
             "redistributable_kept": sum(r.kept for r in rows if r.redistributable)}
    Path(path).write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")

"""Every pair source a fine-tuning run can name: the older labelled sets and the archived public pair
sets, all read from the data root (shared/data), and Wikipedia files on request."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from pathlib import Path

from .corpus import read_corpus
from .labelled_pairs import climate_fever_pairs, msrp_pairs, scifact_pairs, sick_pairs, stsb_pairs, trecqa_pairs
from .pair_sets import PAIR_SETS, data_dir_reader
from .pairs import Pair, distinct_pairs
from .wikipedia_pairs import wikipedia_pairs

# The sources a plain `finetune` trains on: the older labelled sets.
DEFAULT_SOURCES = ("stsb", "sick", "msrp", "trecqa", "scifact", "climate_fever")


PAIR_SOURCES: dict[str, Callable[[Path], Iterator[Pair]]] = {
    "stsb": stsb_pairs,
    "sick": sick_pairs,
    "msrp": msrp_pairs,
    "trecqa": trecqa_pairs,
    "scifact": scifact_pairs,
    "climate_fever": climate_fever_pairs,
    **{name: data_dir_reader(name) for name in PAIR_SETS},
}


def load_pairs(
    data_dir: Path,
    sources: Sequence[str],
    wikipedia_files: Sequence[Path] = (),
    max_wikipedia_pairs: int = 0,
    seed: int = 0,
) -> list[Pair]:
    """The training pairs of the named sources plus up to `max_wikipedia_pairs` from `wikipedia_files`,
    each (query, positive) once, where the first source named wins a tie. They are shuffled with `seed`
    so that batches mix sources and a run can be repeated. Unknown source names are refused before any
    file is read, so a typo fails at once rather than after the other sources have loaded."""
    unknown = [name for name in sources if name not in PAIR_SOURCES]
    if unknown:
        raise ValueError(f"unknown pair source(s) {', '.join(unknown)}; known: {', '.join(PAIR_SOURCES)}")
    readers = [PAIR_SOURCES[name](Path(data_dir)) for name in sources]
    if max_wikipedia_pairs > 0:
        readers.append(wikipedia_pairs(read_corpus(wikipedia_files), max_wikipedia_pairs, seed))
    pairs = list(distinct_pairs(chain.from_iterable(readers)))
    random.Random(seed).shuffle(pairs)
    return pairs

"""The public pair sets of shared/data/pairs, each kept as one `NAME.tar.xz` and read in place.

Every set is registered with its licence and whether that licence allows shipping a model trained on it
(CC BY, CC BY-SA, Apache-2.0 and MIT do; research-only terms and a missing licence do not), because the
model card must say what the shipped model learnt from and `redistributable_only` mixes must be able to
leave the rest out. Two kinds of set:

- pair sets (`PAIR_SETS`) yield `Pair`s directly: a question and its passage, a premise and what it
  entails (with what it contradicts as the hard negative), a question and its rewording;
- answer sets (`ANSWER_SETS`) have only questions and short answers; they become pairs once a passage
  holding the answer is found (`indexer.pair_mining`, DPR's distant supervision).

The archives stay compressed (`archives`); the readers are in `pair_set_readers` and `answer_set_readers`.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .answer_set_readers import (
    Question,
    curatedtrec_questions,
    dpr_questions,
    nq_open_questions,
    opentriviaqa_questions,
    webquestions_questions,
)
from .archives import open_archive
from .pair_set_readers import (
    breaking_nli_pairs,
    counterfactual_nli_pairs,
    covid_qa_pairs,
    disfl_qa_pairs,
    esnli_pairs,
    medquad_pairs,
    pubmedqa_pairs,
    qed_pairs,
    squad_html_pairs,
    twitter_pairs,
    wikiqa_pairs,
)
from .pairs import Pair

WIKIPEDIA_LICENCE = "CC BY-SA 3.0 (Wikipedia text)"
# A mined pair joins a question of one set to a Wikipedia paragraph: both licences apply.
MINED_PREFIX = "mined:"
SPANS_PREFIX = "spans:"  # span pairs cut from a pair set's own passages: "spans:<set>:span"


@dataclass(frozen=True)
class PairSet:
    """A set that yields pairs; `read` takes the open archive."""

    licence: str
    redistributable: bool
    read: Callable[[tarfile.TarFile], Iterator[Pair]]
    archive: str = ""  # NAME of NAME.tar.xz when it differs from the set's name


@dataclass(frozen=True)
class AnswerSet:
    """A set of questions with answer strings (or, when `regex`, answer patterns), for mining."""

    licence: str
    redistributable: bool
    read: Callable[[tarfile.TarFile], Iterator[Question]]
    archive: str = ""
    regex: bool = False


def read_pair_set(pairs_dir: Path, name: str) -> Iterator[Pair]:
    """The pairs of the set `name`, read from `pairs_dir/ARCHIVE.tar.xz`."""
    entry = PAIR_SETS[name]
    with open_archive(pairs_dir, entry.archive or name) as archive:
        yield from entry.read(archive)


def data_dir_reader(name: str) -> Callable[[Path], Iterator[Pair]]:
    """A reader of the set `name` that takes the data root (shared/data), like `labelled_pairs`' readers."""
    return lambda data_dir: read_pair_set(Path(data_dir) / "pairs", name)


def read_answer_set(pairs_dir: Path, name: str) -> Iterator[Question]:
    """The (question, answers) of the answer set `name`, each question once."""
    entry = ANSWER_SETS[name]
    seen: set[str] = set()
    with open_archive(pairs_dir, entry.archive or name) as archive:
        for question, answers in entry.read(archive):
            answers = tuple(a for a in dict.fromkeys(a.strip() for a in answers) if a)
            if question and answers and question.lower() not in seen:
                seen.add(question.lower())
                yield question, answers


def licence_of(source: str) -> tuple[str, bool]:
    """(licence, redistributable) of a pair source: a set of this module, one of the older
    sources (`labelled_pairs`), `mined:<set>`, whose Wikipedia positives add CC BY-SA to the question set's licence,
    `wikipedia:<kind>` (span and title pairs cut from the dump) or `spans:<set>:span` (cut from a set's passages,
    so under that set's licence)."""
    if source.startswith(MINED_PREFIX):
        licence, redistributable = licence_of(source[len(MINED_PREFIX):])
        return f"{licence}; {WIKIPEDIA_LICENCE}", redistributable
    if source.startswith(SPANS_PREFIX):
        return licence_of(source[len(SPANS_PREFIX):].rsplit(":", 1)[0])
    if source.startswith("wikipedia:"):
        return licence_of("wikipedia")
    entry = PAIR_SETS.get(source) or ANSWER_SETS.get(source)
    if entry is not None:
        return entry.licence, entry.redistributable
    return OLDER_SOURCE_LICENCES.get(source, ("unknown", False))


PAIR_SETS: dict[str, PairSet] = {
    "snli_dev_test_esnli": PairSet("SNLI: CC BY-SA 4.0; e-SNLI: MIT", True, esnli_pairs),
    "snli_counterfactual_cad": PairSet("Apache-2.0; SNLI: CC BY-SA 4.0", True, counterfactual_nli_pairs),
    "breaking_nli": PairSet("CC BY-SA 4.0", True, breaking_nli_pairs),
    "medquad": PairSet("CC BY 4.0", True, medquad_pairs),
    "disfl_qa": PairSet("CC BY 4.0", True, disfl_qa_pairs),
    "squad_dev_explorer_html": PairSet("CC BY-SA 4.0", True, squad_html_pairs),
    "qed_nq_dev": PairSet("CC BY-SA 3.0", True, qed_pairs),
    "pubmedqa_labeled": PairSet("MIT", True, pubmedqa_pairs),
    "covid_qa_deepset": PairSet("Apache-2.0", True, covid_qa_pairs),
    "wikiqa": PairSet("Microsoft Research WikiQA licence (research only)", False, wikiqa_pairs),
    "twitter_url_paraphrase": PairSet("none stated (research release)", False, twitter_pairs),
}


ANSWER_SETS: dict[str, AnswerSet] = {
    "nq_open_dev_efficientqa": AnswerSet("CC BY-SA 3.0", True, nq_open_questions),
    # DPR's nq.dev questions are NQ *train* questions; nq.test, squad.test and wq.test repeat the sets above.
    "dpr_nq_dev": AnswerSet("CC BY-SA 3.0 (NQ)", True, dpr_questions("nq.dev"), archive="dpr_qa_topics_anserini"),
    "dpr_trivia": AnswerSet("Apache-2.0 (TriviaQA)", True, dpr_questions("trivia.dev", "trivia.test"), archive="dpr_qa_topics_anserini"),
    "webquestions": AnswerSet("CC BY 4.0", True, webquestions_questions),
    "opentriviaqa": AnswerSet("CC BY-SA 4.0", True, opentriviaqa_questions),
    "curatedtrec": AnswerSet("TREC-derived, none stated (research only)", False, curatedtrec_questions, regex=True),
}


# The older sets (`labelled_pairs`), as shared/data/SOURCES.md states their terms: none is one
# a shipped model may learn from (non-commercial, research-only or unstated terms).
OLDER_SOURCE_LICENCES: dict[str, tuple[str, bool]] = {
    "stsb": ("per-source SemEval terms (stsb/LICENSE.txt)", False),
    "sick": ("CC BY-NC-SA 3.0", False),
    "msrp": ("Microsoft Research licence", False),
    "trecqa": ("none stated", False),
    "scifact": ("CC BY-NC 2.0", False),
    "climate_fever": ("none stated", False),
    "wikipedia": (WIKIPEDIA_LICENCE, True),
}

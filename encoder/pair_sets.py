"""Readers for the public pair sets of shared/data/pairs, each kept as one `NAME.tar.xz` and read in place.

Every set is registered with its licence and whether that licence allows shipping a model trained on it
(CC BY, CC BY-SA, Apache-2.0 and MIT do; research-only terms and a missing licence do not), because the
model card must say what the shipped model learnt from and `redistributable_only` mixes must be able to
leave the rest out. Two kinds of set:

- pair sets (`PAIR_SETS`) yield `Pair`s directly: a question and its passage, a premise and what it
  entails (with what it contradicts as the hard negative), a question and its rewording;
- answer sets (`ANSWER_SETS`) have only questions and short answers; they become pairs once a passage
  holding the answer is found (`indexer.pair_mining`, DPR's distant supervision).

The archives stay compressed: `tarfile` streams them, member by member, in archive order. Many of these
sets were tokenised by their makers ("packages ." / "it 's"); `detokenize` undoes the common cases so
that training text looks like what users type and documents hold.
"""

from __future__ import annotations

import ast
import csv
import html
import io
import json
import re
import tarfile
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


WIKIPEDIA_LICENCE = "CC BY-SA 3.0 (Wikipedia text)"
# A mined pair joins a question of one set to a Wikipedia paragraph: both licences apply.
MINED_PREFIX = "mined:"

Question = tuple[str, tuple[str, ...]]  # (question, answer strings or answer regexes)


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
    with _open(pairs_dir, entry.archive or name) as archive:
        yield from entry.read(archive)


def data_dir_reader(name: str) -> Callable[[Path], Iterator[Pair]]:
    """A reader of the set `name` that takes the data root (shared/data), like `encoder.pairs`' readers."""
    return lambda data_dir: read_pair_set(Path(data_dir) / "pairs", name)


def read_answer_set(pairs_dir: Path, name: str) -> Iterator[Question]:
    """The (question, answers) of the answer set `name`, each question once."""
    entry = ANSWER_SETS[name]
    seen: set[str] = set()
    with _open(pairs_dir, entry.archive or name) as archive:
        for question, answers in entry.read(archive):
            answers = tuple(a for a in dict.fromkeys(a.strip() for a in answers) if a)
            if question and answers and question.lower() not in seen:
                seen.add(question.lower())
                yield question, answers


def licence_of(source: str) -> tuple[str, bool]:
    """(licence, redistributable) of a pair source: a set of this module, one of `encoder.pairs`' older
    sources, or `mined:<set>`, whose Wikipedia positives add CC BY-SA to the question set's licence."""
    if source.startswith(MINED_PREFIX):
        licence, redistributable = licence_of(source[len(MINED_PREFIX):])
        return f"{licence}; {WIKIPEDIA_LICENCE}", redistributable
    entry = PAIR_SETS.get(source) or ANSWER_SETS.get(source)
    if entry is not None:
        return entry.licence, entry.redistributable
    return OLDER_SOURCE_LICENCES.get(source, ("unknown", False))


def detokenize(text: str) -> str:
    """Undo PTB-style tokenisation ("a dog , it 's ( big ) ." -> "a dog, it's (big).") and collapse
    whitespace; text that was never tokenised comes back unchanged but for the whitespace."""
    text = " ".join(text.split())
    text = re.sub(r" ([.,!?;:%)\]}]|'s|'re|'ve|'ll|'d|'m|n't)(?=\s|$)", r"\1", text)
    return re.sub(r"([(\[{$]) ", r"\1", text)


# --- Pair sets -------------------------------------------------------------------------------------------

def _esnli(archive: tarfile.TarFile) -> Iterator[Pair]:
    """SNLI dev and test (via e-SNLI): line-aligned premise, hypothesis and label files."""
    rows = []
    for split in ("dev", "test"):
        premises, hypotheses, labels = (
            _lines(archive, f"snli_dev_test_esnli/dataset/eSNLI/{kind}.{split}") for kind in ("s1", "s2", "labels")
        )
        rows += [(detokenize(p), detokenize(h), _NLI_LABELS.get(l.strip())) for p, h, l in zip(premises, hypotheses, labels)]
    return _grouped(rows, "snli_dev_test_esnli")


def _counterfactual_nli(archive: tarfile.TarFile) -> Iterator[Pair]:
    """All of CAD's SNLI rows (original, revised premise, revised hypothesis; train, dev and test): an
    edit that flips entailment into contradiction is as hard a negative as a sentence can be."""
    rows = []
    for split in ("train", "dev", "test"):
        text = _text(archive, f"snli_counterfactual_cad/NLI/all_combined/{split}.tsv")
        for row in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
            rows.append(((row.get("sentence1") or "").strip(), (row.get("sentence2") or "").strip(),
                         _NLI_LABELS.get((row.get("gold_label") or "").strip())))
    return _grouped(rows, "snli_counterfactual_cad")


def _breaking_nli(archive: tarfile.TarFile) -> Iterator[Pair]:
    """Breaking NLI: one-word substitutions on SNLI premises, nearly all contradictions, so the pairs
    are the premises that also have an entailed substitution."""
    rows = [(str(r.get("sentence1") or "").strip(), str(r.get("sentence2") or "").strip(), _NLI_LABELS.get(r.get("gold_label")))
            for r in _jsonl(_text(archive, "breaking_nli/unzipped/data/dataset.jsonl"))]
    return _grouped(rows, "breaking_nli")


def _medquad(archive: tarfile.TarFile) -> Iterator[Pair]:
    """MedQuAD: each XML document's questions to their answers (subsets whose answers were withdrawn
    are absent from the archive)."""
    for name, data in _members(archive, lambda n: n.endswith(".xml")):
        try:
            document = ElementTree.fromstring(data)
        except ElementTree.ParseError:
            continue
        for qa in document.iter("QAPair"):
            question, answer = (" ".join((qa.findtext(tag) or "").split()) for tag in ("Question", "Answer"))
            if question and answer:
                yield Pair(question, answer, "medquad")


def _disfl_qa(archive: tarfile.TarFile) -> Iterator[Pair]:
    """Disfl-QA: a spoken, self-correcting question to its fluent form (all splits)."""
    for split in ("train", "dev", "test"):
        for record in json.loads(_text(archive, f"disfl_qa/{split}.json")).values():
            disfluent, fluent = (str(record.get(k) or "").strip() for k in ("disfluent", "original"))
            if disfluent and fluent:
                yield Pair(disfluent, fluent, "disfl_qa")


_SQUAD_PARAGRAPH = re.compile(r'<div class="para-wrap">.*?<pre>(.*?)</pre>(.*?)(?=<div class="para-wrap">|$)', re.S)
_SQUAD_QUESTION = re.compile(r'<strong class="question">(.*?)</strong>(.*?)</ul>', re.S)


def _squad_html(archive: tarfile.TarFile) -> Iterator[Pair]:
    """SQuAD v1.1 and v2.0 dev, read from the explorer's article pages: each answerable question to its
    paragraph. v2.0 dev repeats most of v1.1 dev; the mix drops the repeats (and xquad_en, a subset of
    v1.1 dev, is not read at all)."""
    for name, data in _members(archive, lambda n: n.endswith(".html") and not n.endswith("index.html")):
        page = data.decode("utf-8", errors="replace")
        for paragraph, questions in _SQUAD_PARAGRAPH.findall(page):
            context = " ".join(html.unescape(paragraph).split())
            for question, answers in _SQUAD_QUESTION.findall(questions):
                if 'class="answer"' in answers:
                    yield Pair(" ".join(html.unescape(question).split()), context, "squad_dev_explorer_html")


def _qed(archive: tarfile.TarFile) -> Iterator[Pair]:
    """QED (NQ dev): a Google query to the Wikipedia paragraph that answers it."""
    for record in _jsonl(_text(archive, "qed_nq_dev/qed-dev.jsonlines")):
        question, paragraph = (detokenize(str(record.get(k) or "")) for k in ("question_text", "paragraph_text"))
        if question and paragraph:
            yield Pair(question, paragraph, "qed_nq_dev")


def _pubmedqa(archive: tarfile.TarFile) -> Iterator[Pair]:
    """PubMedQA-L: a question (an article's title) to its abstract without the conclusion, as one text."""
    for record in json.loads(_text(archive, "pubmedqa_labeled/data/ori_pqal.json")).values():
        question = str(record.get("QUESTION") or "").strip()
        context = " ".join(" ".join(str(c) for c in record.get("CONTEXTS") or ()).split())
        if question and context:
            yield Pair(question, context, "pubmedqa_labeled")


def _covid_qa(archive: tarfile.TarFile) -> Iterator[Pair]:
    """COVID-QA: a question to the paragraph (one line of the paper) that holds its answer, since whole
    papers are far longer than a training text; the English FAQ questions to their answers; and the
    question pairs labelled similar."""
    squad = json.loads(_text(archive, "covid_qa_deepset/data/question-answering/200423_covidQA.json"))
    for article in squad.get("data") or ():
        for paragraph in article.get("paragraphs") or ():
            context = paragraph.get("context") or ""
            for qa in paragraph.get("qas") or ():
                answers = qa.get("answers") or ()
                if answers and not qa.get("is_impossible") and (line := _line_at(context, answers[0].get("answer_start", -1))):
                    yield Pair(str(qa.get("question") or "").strip(), line, "covid_qa_deepset")
    faqs = [("faq_covidbert.csv", ","), ("faq_200327.tsv", "\t")]
    for member, delimiter in faqs:
        for row in csv.DictReader(io.StringIO(_text(archive, f"covid_qa_deepset/data/faqs/{member}")), delimiter=delimiter):
            question, answer = (" ".join((row.get(k) or "").split()) for k in ("question", "answer"))
            if row.get("lang") == "en" and question and answer:
                yield Pair(question, answer, "covid_qa_deepset")
    for row in csv.DictReader(io.StringIO(_text(archive, "covid_qa_deepset/data/eval_question_similarity_en.csv"))):
        first, second = ((row.get(k) or "").strip() for k in ("question_1", "question_2"))
        if row.get("similar") == "1" and first and second:
            yield Pair(first, second, "covid_qa_deepset")


def _wikiqa(archive: tarfile.TarFile) -> Iterator[Pair]:
    """WikiQA train (research-only): a question to its answer sentences, a non-answer as hard negative."""
    return _grouped(_labelled_lines(archive, "wikiqa/WikiQA/train"), "wikiqa")


def _twitter(archive: tarfile.TarFile) -> Iterator[Pair]:
    """Twitter URL paraphrases, train (research-only): a headline to a tweet that paraphrases it, a tweet
    on the same link that does not as hard negative."""
    return _grouped(_labelled_lines(archive, "twitter_url_paraphrase/twitterPPDB/train"), "twitter_url_paraphrase")


# --- Answer sets -----------------------------------------------------------------------------------------

def _nq_open(archive: tarfile.TarFile) -> Iterator[Question]:
    """NQ-open dev and EfficientQA dev and test (all NQ questions with short answers)."""
    for member in ("NQ-open.dev.jsonl", "NQ-open.efficientqa.dev.1.1.jsonl", "NQ-open.efficientqa.test.1.1.jsonl"):
        yield from _json_questions(_text(archive, f"nq_open_dev_efficientqa/nq_open/{member}"))


def _dpr_topics(*files: str) -> Callable[[tarfile.TarFile], Iterator[Question]]:
    """DPR's question files as anserini keeps them: `question<TAB>['answer', ...]` or JSON lines."""
    def read(archive: tarfile.TarFile) -> Iterator[Question]:
        for file in files:
            text = _text(archive, f"dpr_qa_topics_anserini/topics/topics.dpr.{file}.txt")
            if text.lstrip().startswith("{"):
                yield from _json_questions(text)
                continue
            for line in text.splitlines():
                question, _, answers = line.partition("\t")
                try:
                    parsed = ast.literal_eval(answers)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(parsed, list):
                    yield question.strip(), tuple(str(a) for a in parsed)
    return read


def _webquestions(archive: tarfile.TarFile) -> Iterator[Question]:
    """WebQuestions, every split (none is one of our evaluation sets)."""
    for split in ("trainmodel", "val", "devtest", "test"):
        for record in json.loads(_text(archive, f"webquestions/main/{split}.json")):
            yield str(record.get("qText") or "").strip(), tuple(str(a) for a in record.get("answers") or ())


def _opentriviaqa(archive: tarfile.TarFile) -> Iterator[Question]:
    """OpenTriviaQA's `#Q question` / `^ answer` blocks; true/false questions carry no findable answer."""
    for name, data in _members(archive, lambda n: "/categories/" in n):
        question = ""
        for line in data.decode("utf-8", errors="replace").splitlines():
            if line.startswith("#Q "):
                question = line[3:].strip()
            elif line.startswith("^ ") and question:
                answer = line[2:].strip()
                if answer.lower() not in ("true", "false", "yes", "no"):
                    yield question, (answer,)
                question = ""


def _curatedtrec(archive: tarfile.TarFile) -> Iterator[Question]:
    """CuratedTREC train and test: `id, type, question, answer regex` (research-only)."""
    for split in ("train", "test"):
        for line in _text(archive, f"curatedtrec/curated-{split}.tsv").splitlines():
            fields = line.split("\t")
            if len(fields) >= 4:
                yield fields[2].strip(), (fields[3].strip(),)


# --- Helpers ---------------------------------------------------------------------------------------------

_NLI_LABELS = {"entailment": True, "contradiction": False}  # neutral -> None: neither pulled nor pushed


def _grouped(rows: Iterable[tuple[str, str, bool | None]], source: str) -> Iterator[Pair]:
    """Pairs from (anchor, text, label) rows: each text labelled True is a positive of its anchor, with
    one of the anchor's False texts as hard negative, dealt out in turn so that an anchor's positives do
    not all share one; rows labelled None are ignored. Serves NLI sets (premise, hypothesis) and answer
    selection sets (question, candidate) alike."""
    positives: dict[str, list[str]] = defaultdict(list)
    negatives: dict[str, list[str]] = defaultdict(list)
    for anchor, text, label in rows:
        if anchor and text and label is not None:
            (positives if label else negatives)[anchor].append(text)
    for anchor, texts in positives.items():
        hard = negatives.get(anchor) or [None]
        for i, text in enumerate(texts):
            yield Pair(anchor, text, source, hard[i % len(hard)])


def _labelled_lines(archive: tarfile.TarFile, folder: str) -> Iterator[tuple[str, str, bool | None]]:
    """(a, b, sim == 1) rows from castorini's line-aligned a.toks / b.toks / sim.txt files."""
    a, b, sim = (_lines(archive, f"{folder}/{name}") for name in ("a.toks", "b.toks", "sim.txt"))
    for first, second, label in zip(a, b, sim):
        yield detokenize(first), detokenize(second), {"1": True, "0": False}.get(label.strip())


def _line_at(text: str, offset: int) -> str:
    """The line of `text` around character `offset`, whitespace collapsed; empty when out of range."""
    if not 0 <= offset < len(text):
        return ""
    start, end = text.rfind("\n", 0, offset) + 1, text.find("\n", offset)
    return " ".join(text[start:end if end >= 0 else len(text)].split())


def _json_questions(text: str) -> Iterator[Question]:
    for record in _jsonl(text):
        answers = record.get("answer") or ()
        yield str(record.get("question") or "").strip(), tuple(str(a) for a in (answers if isinstance(answers, list) else [answers]))


def _open(pairs_dir: Path, archive: str) -> tarfile.TarFile:
    path = Path(pairs_dir) / f"{archive}.tar.xz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such pair archive")
    return tarfile.open(path, "r:xz")


def _members(archive: tarfile.TarFile, wanted: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the regular files whose name `wanted` accepts, in archive order (one pass over
    the compressed stream, however many members)."""
    for member in archive:
        if member.isfile() and wanted(member.name):
            handle = archive.extractfile(member)
            if handle is not None:
                yield member.name, handle.read()


def _text(archive: tarfile.TarFile, name: str) -> str:
    try:
        handle = archive.extractfile(name)
    except KeyError:
        raise FileNotFoundError(f"{archive.name}: no member {name}") from None
    if handle is None:
        raise FileNotFoundError(f"{archive.name}: {name} is not a file")
    return handle.read().decode("utf-8-sig", errors="replace")


def _lines(archive: tarfile.TarFile, name: str) -> list[str]:
    return _text(archive, name).splitlines()


def _jsonl(text: str) -> Iterator[dict]:
    return json_objects(text.splitlines())


PAIR_SETS: dict[str, PairSet] = {
    "snli_dev_test_esnli": PairSet("SNLI: CC BY-SA 4.0; e-SNLI: MIT", True, _esnli),
    "snli_counterfactual_cad": PairSet("Apache-2.0; SNLI: CC BY-SA 4.0", True, _counterfactual_nli),
    "breaking_nli": PairSet("CC BY-SA 4.0", True, _breaking_nli),
    "medquad": PairSet("CC BY 4.0", True, _medquad),
    "disfl_qa": PairSet("CC BY 4.0", True, _disfl_qa),
    "squad_dev_explorer_html": PairSet("CC BY-SA 4.0", True, _squad_html),
    "qed_nq_dev": PairSet("CC BY-SA 3.0", True, _qed),
    "pubmedqa_labeled": PairSet("MIT", True, _pubmedqa),
    "covid_qa_deepset": PairSet("Apache-2.0", True, _covid_qa),
    "wikiqa": PairSet("Microsoft Research WikiQA licence (research only)", False, _wikiqa),
    "twitter_url_paraphrase": PairSet("none stated (research release)", False, _twitter),
}

ANSWER_SETS: dict[str, AnswerSet] = {
    "nq_open_dev_efficientqa": AnswerSet("CC BY-SA 3.0", True, _nq_open),
    # DPR's nq.dev questions are NQ *train* questions; nq.test, squad.test and wq.test repeat the sets above.
    "dpr_nq_dev": AnswerSet("CC BY-SA 3.0 (NQ)", True, _dpr_topics("nq.dev"), archive="dpr_qa_topics_anserini"),
    "dpr_trivia": AnswerSet("Apache-2.0 (TriviaQA)", True, _dpr_topics("trivia.dev", "trivia.test"), archive="dpr_qa_topics_anserini"),
    "webquestions": AnswerSet("CC BY 4.0", True, _webquestions),
    "opentriviaqa": AnswerSet("CC BY-SA 4.0", True, _opentriviaqa),
    "curatedtrec": AnswerSet("TREC-derived, none stated (research only)", False, _curatedtrec, regex=True),
}

# The sets `encoder.pairs` read before these, as shared/data/SOURCES.md states their terms: none is one
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

# Last, because `encoder.pairs` registers these sets in its PAIR_SOURCES by importing this module at its
# end: whichever of the two is imported first, each finds what it needs of the other already defined.
from .corpus import json_objects  # noqa: E402
from .pairs import Pair  # noqa: E402

"""The readers of the public pair sets (`pair_sets.PAIR_SETS`): each takes its open archive and yields
`Pair`s, a question and its passage, a premise and what it entails (with what it contradicts as the hard
negative), a question and its rewording.

Many of these sets were tokenised by their makers ("packages ." / "it 's"); `detokenize` undoes the
common cases so that training text looks like what users type and documents hold.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import tarfile
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from collections.abc import Iterable, Iterator

from .archives import archive_members, member_lines, member_text
from .corpus import json_objects
from .pairs import Pair

_NLI_LABELS = {"entailment": True, "contradiction": False}  # neutral -> None: neither pulled nor pushed


def detokenize(text: str) -> str:
    """Undo PTB-style tokenisation ("a dog , it 's ( big ) ." -> "a dog, it's (big).") and collapse
    whitespace; text that was never tokenised comes back unchanged but for the whitespace."""
    text = " ".join(text.split())
    text = re.sub(r" ([.,!?;:%)\]}]|'s|'re|'ve|'ll|'d|'m|n't)(?=\s|$)", r"\1", text)
    return re.sub(r"([(\[{$]) ", r"\1", text)


def esnli_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """SNLI dev and test (via e-SNLI): line-aligned premise, hypothesis and label files."""
    rows = []
    for split in ("dev", "test"):
        premises, hypotheses, labels = (
            member_lines(archive, f"snli_dev_test_esnli/dataset/eSNLI/{kind}.{split}") for kind in ("s1", "s2", "labels")
        )
        rows += [(detokenize(p), detokenize(h), _NLI_LABELS.get(l.strip())) for p, h, l in zip(premises, hypotheses, labels)]
    return _grouped(rows, "snli_dev_test_esnli")


def counterfactual_nli_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """All of CAD's SNLI rows (original, revised premise, revised hypothesis; train, dev and test): an
    edit that flips entailment into contradiction is as hard a negative as a sentence can be."""
    rows = []
    for split in ("train", "dev", "test"):
        text = member_text(archive, f"snli_counterfactual_cad/NLI/all_combined/{split}.tsv")
        for row in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
            rows.append(((row.get("sentence1") or "").strip(), (row.get("sentence2") or "").strip(),
                         _NLI_LABELS.get((row.get("gold_label") or "").strip())))
    return _grouped(rows, "snli_counterfactual_cad")


def breaking_nli_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """Breaking NLI: one-word substitutions on SNLI premises, nearly all contradictions, so the pairs
    are the premises that also have an entailed substitution."""
    rows = [(str(r.get("sentence1") or "").strip(), str(r.get("sentence2") or "").strip(), _NLI_LABELS.get(r.get("gold_label")))
            for r in json_objects(member_text(archive, "breaking_nli/unzipped/data/dataset.jsonl").splitlines())]
    return _grouped(rows, "breaking_nli")


def medquad_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """MedQuAD: each XML document's questions to their answers (subsets whose answers were withdrawn
    are absent from the archive)."""
    for name, data in archive_members(archive, lambda n: n.endswith(".xml")):
        try:
            document = ElementTree.fromstring(data)
        except ElementTree.ParseError:
            continue
        for qa in document.iter("QAPair"):
            question, answer = (" ".join((qa.findtext(tag) or "").split()) for tag in ("Question", "Answer"))
            if question and answer:
                yield Pair(question, answer, "medquad")


def disfl_qa_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """Disfl-QA: a spoken, self-correcting question to its fluent form (all splits)."""
    for split in ("train", "dev", "test"):
        for record in json.loads(member_text(archive, f"disfl_qa/{split}.json")).values():
            disfluent, fluent = (str(record.get(k) or "").strip() for k in ("disfluent", "original"))
            if disfluent and fluent:
                yield Pair(disfluent, fluent, "disfl_qa")


_SQUAD_PARAGRAPH = re.compile(r'<div class="para-wrap">.*?<pre>(.*?)</pre>(.*?)(?=<div class="para-wrap">|$)', re.S)
_SQUAD_QUESTION = re.compile(r'<strong class="question">(.*?)</strong>(.*?)</ul>', re.S)


def squad_html_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """SQuAD v1.1 and v2.0 dev, read from the explorer's article pages: each answerable question to its
    paragraph. v2.0 dev repeats most of v1.1 dev; the mix drops the repeats (and xquad_en, a subset of
    v1.1 dev, is not read at all)."""
    for name, data in archive_members(archive, lambda n: n.endswith(".html") and not n.endswith("index.html")):
        page = data.decode("utf-8", errors="replace")
        for paragraph, questions in _SQUAD_PARAGRAPH.findall(page):
            context = " ".join(html.unescape(paragraph).split())
            for question, answers in _SQUAD_QUESTION.findall(questions):
                if 'class="answer"' in answers:
                    yield Pair(" ".join(html.unescape(question).split()), context, "squad_dev_explorer_html")


def qed_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """QED (NQ dev): a Google query to the Wikipedia paragraph that answers it."""
    for record in json_objects(member_text(archive, "qed_nq_dev/qed-dev.jsonlines").splitlines()):
        question, paragraph = (detokenize(str(record.get(k) or "")) for k in ("question_text", "paragraph_text"))
        if question and paragraph:
            yield Pair(question, paragraph, "qed_nq_dev")


def pubmedqa_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """PubMedQA-L: a question (an article's title) to its abstract without the conclusion, as one text."""
    for record in json.loads(member_text(archive, "pubmedqa_labeled/data/ori_pqal.json")).values():
        question = str(record.get("QUESTION") or "").strip()
        context = " ".join(" ".join(str(c) for c in record.get("CONTEXTS") or ()).split())
        if question and context:
            yield Pair(question, context, "pubmedqa_labeled")


def covid_qa_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """COVID-QA: a question to the paragraph (one line of the paper) that holds its answer, since whole
    papers are far longer than a training text; the English FAQ questions to their answers; and the
    question pairs labelled similar."""
    squad = json.loads(member_text(archive, "covid_qa_deepset/data/question-answering/200423_covidQA.json"))
    for article in squad.get("data") or ():
        for paragraph in article.get("paragraphs") or ():
            context = paragraph.get("context") or ""
            for qa in paragraph.get("qas") or ():
                answers = qa.get("answers") or ()
                if answers and not qa.get("is_impossible") and (line := _line_at(context, answers[0].get("answer_start", -1))):
                    yield Pair(str(qa.get("question") or "").strip(), line, "covid_qa_deepset")
    faqs = [("faq_covidbert.csv", ","), ("faq_200327.tsv", "\t")]
    for member, delimiter in faqs:
        for row in csv.DictReader(io.StringIO(member_text(archive, f"covid_qa_deepset/data/faqs/{member}")), delimiter=delimiter):
            question, answer = (" ".join((row.get(k) or "").split()) for k in ("question", "answer"))
            if row.get("lang") == "en" and question and answer:
                yield Pair(question, answer, "covid_qa_deepset")
    for row in csv.DictReader(io.StringIO(member_text(archive, "covid_qa_deepset/data/eval_question_similarity_en.csv"))):
        first, second = ((row.get(k) or "").strip() for k in ("question_1", "question_2"))
        if row.get("similar") == "1" and first and second:
            yield Pair(first, second, "covid_qa_deepset")


def wikiqa_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """WikiQA train (research-only): a question to its answer sentences, a non-answer as hard negative."""
    return _grouped(_labelled_lines(archive, "wikiqa/WikiQA/train"), "wikiqa")


def twitter_pairs(archive: tarfile.TarFile) -> Iterator[Pair]:
    """Twitter URL paraphrases, train (research-only): a headline to a tweet that paraphrases it, a tweet
    on the same link that does not as hard negative."""
    return _grouped(_labelled_lines(archive, "twitter_url_paraphrase/twitterPPDB/train"), "twitter_url_paraphrase")


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
    a, b, sim = (member_lines(archive, f"{folder}/{name}") for name in ("a.toks", "b.toks", "sim.txt"))
    for first, second, label in zip(a, b, sim):
        yield detokenize(first), detokenize(second), {"1": True, "0": False}.get(label.strip())


def _line_at(text: str, offset: int) -> str:
    """The line of `text` around character `offset`, whitespace collapsed; empty when out of range."""
    if not 0 <= offset < len(text):
        return ""
    start, end = text.rfind("\n", 0, offset) + 1, text.find("\n", offset)
    return " ".join(text[start:end if end >= 0 else len(text)].split())

"""Sentence pairs for contrastive fine-tuning, read from the older labelled sets in shared/data.

Only training splits become pairs: the dev and test splits of STS-B, SICK, MSRP, TrecQA and SciFact are
what the encoder is measured on, and a pair seen in training would inflate those numbers (Climate-FEVER
has no split at all; see its reader). Each reader takes the data root (shared/data) and knows its own
sub-folder and file format, so a training config names sources, not paths. A line that does not parse is
skipped rather than fatal, because a few stray lines in a public data set should not cost a training run;
a missing file is fatal, because it means the wrong data root.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from .corpus import json_lines
from .pairs import Pair, distinct_pairs, row_fields

# STS-B's train file has no header; these are its columns in the order of its readme.
STSB_COLUMNS = ("genre", "file", "year", "id", "score", "sentence1", "sentence2")


def stsb_pairs(folder: Path, min_score: float = 4.0) -> Iterator[Pair]:
    """STS-B train pairs scored at least `min_score` of 5: near-paraphrases, not merely related texts."""
    rows = _read_table(folder / "stsb" / "sts-train.csv", fieldnames=STSB_COLUMNS)
    return _scored_pairs(rows, "stsb", "score", "sentence1", "sentence2", min_score)


def sick_pairs(folder: Path, min_score: float = 4.0) -> Iterator[Pair]:
    """SICK's TRAIN rows with relatedness at least `min_score` of 5; TRIAL and TEST are SICK-R's evaluation."""
    rows = _read_table(folder / "sick" / "SICK.txt")
    train = (row for row in rows if (row.get("SemEval_set") or "").strip() == "TRAIN")
    return _scored_pairs(train, "sick", "relatedness_score", "sentence_A", "sentence_B", min_score)


def msrp_pairs(folder: Path) -> Iterator[Pair]:
    """MSRP train pairs that annotators judged paraphrases (Quality 1)."""
    rows = _read_table(folder / "msrp" / "msr-para-train.tsv")
    return _scored_pairs(rows, "msrp", "Quality", "#1 String", "#2 String", min_score=1.0)


def trecqa_pairs(folder: Path) -> Iterator[Pair]:
    """TrecQA train questions to their answer sentences, each with a non-answer to the same question as a
    hard negative when there is one: those sentences share the question's words, so they teach the model
    more than random in-batch negatives do. Negatives are dealt out in turn so that a question's answers
    do not all get the same one."""
    answers: dict[str, list[str]] = defaultdict(list)
    non_answers: dict[str, list[str]] = defaultdict(list)
    for row in _read_table(folder / "trecqa_wang" / "train.csv", delimiter=","):
        fields = row_fields(row, "qtext", "label", "atext")
        if fields is not None and fields[1] in ("0", "1"):
            question, label, sentence = fields
            (answers if label == "1" else non_answers)[question].append(sentence)
    for question, positives in answers.items():
        negatives = non_answers.get(question) or [None]
        for i, positive in enumerate(positives):
            yield Pair(question, positive, "trecqa", negatives[i % len(negatives)])


def scifact_pairs(folder: Path) -> Iterator[Pair]:
    """SciFact train claims to each abstract they cite, as "title abstract".

    BEIR's SciFact test queries are SciFact's validation claims, and two train claims repeat one of them
    word for word, so claims that also appear among the validation claims are dropped. The abstract text
    comes from corpus.jsonl rather than the zip's corpus CSV, which stores each abstract as the printed
    form of a NumPy array of sentences; both have the same ids, and corpus.jsonl is what gets indexed.
    The claims CSV has one row per evidence document, each repeating the cited ids, hence `_distinct`.
    """
    root = folder / "scifact"
    with zipfile.ZipFile(root / "original" / "scifact_hf_csv.zip") as archive:
        claims = list(_zip_table(archive, "claims_train.csv"))
        held_out = {(row.get("claim") or "").strip() for row in _zip_table(archive, "claims_validation.csv")}
    abstracts = {
        str(doc.get("_id")): f"{doc.get('title') or ''} {doc.get('text') or ''}".strip()
        for doc in json_lines(root / "corpus.jsonl")
    }
    return distinct_pairs(_cited_abstracts(claims, held_out, abstracts))


def climate_fever_pairs(folder: Path) -> Iterator[Pair]:
    """Climate-FEVER claims to each evidence sentence that supports or refutes them: both are what a
    searcher checking the claim wants to find; NOT_ENOUGH_INFO sentences are only topically close.

    Climate-FEVER has no train split: these 1,535 claims are BEIR's Climate-FEVER test set, so a model
    trained on them must not be evaluated on it.
    """
    for record in json_lines(folder / "climate_fever" / "climate-fever.jsonl.gz"):
        claim = str(record.get("claim") or "").strip()
        for sentence in _relevant_evidence(record) if claim else ():
            yield Pair(claim, sentence, "climate_fever")


def _read_table(
    path: Path, delimiter: str = "\t", fieldnames: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Rows of a delimited text file keyed by its header, or by `fieldnames` when it has none.

    `utf-8-sig` drops MSRP's byte-order mark, which would otherwise stick to the first column's name.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from _table_rows(handle, delimiter, fieldnames)


def _zip_table(archive: zipfile.ZipFile, member: str) -> Iterator[dict[str, Any]]:
    """Rows of a comma-separated file inside a zip, keyed by its header."""
    with archive.open(member) as raw:
        yield from _table_rows(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""), ",", None)


def _table_rows(handle: IO[str], delimiter: str, fieldnames: Sequence[str] | None) -> Iterator[dict[str, Any]]:
    """Tab-separated sets are read with quoting off: their sentences hold bare quote marks, which CSV
    quoting would take as the start of a field that swallows the following tabs and lines. Missing
    columns come back as None and extra ones (STS-B's source columns) under the key None."""
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    return csv.DictReader(handle, fieldnames=fieldnames, delimiter=delimiter, quoting=quoting)


def _scored_pairs(
    rows: Iterable[dict[str, Any]], source: str, score: str, first: str, second: str, min_score: float
) -> Iterator[Pair]:
    """Pairs of the sentences in columns `first` and `second` of rows whose `score` column reaches
    `min_score`; one reader for every set that labels a sentence pair with a number."""
    for row in rows:
        fields = row_fields(row, score, first, second)
        if fields is None:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        if value >= min_score:
            yield Pair(fields[1], fields[2], source)


def _cited_abstracts(
    claims: Iterable[dict[str, Any]], held_out: set[str], abstracts: dict[str, str]
) -> Iterator[Pair]:
    """Claim-abstract pairs for the claims not held out; `cited_doc_ids` reads like "[ 5152028 11705328]"."""
    for row in claims:
        fields = row_fields(row, "claim", "cited_doc_ids")
        if fields is None or fields[0] in held_out:
            continue
        claim, cited = fields
        for doc_id in cited.strip("[]").split():
            if abstracts.get(doc_id):
                yield Pair(claim, abstracts[doc_id], "scifact")


def _relevant_evidence(record: dict[str, Any]) -> Iterator[str]:
    """The evidence sentences of a Climate-FEVER record labelled SUPPORTS or REFUTES."""
    for evidence in record.get("evidences") or ():
        fields = row_fields(evidence, "evidence", "evidence_label") if isinstance(evidence, dict) else None
        if fields is not None and fields[1] in ("SUPPORTS", "REFUTES"):
            yield fields[0]

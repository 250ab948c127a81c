"""Sentence pairs for contrastive fine-tuning, read from the labelled sets in shared/data and from Wikipedia.

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
import json
import lzma
import random
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

from .corpus import Document, json_objects, open_text, read_corpus, split_sentences

# STS-B's train file has no header; these are its columns in the order of its readme.
STSB_COLUMNS = ("genre", "file", "year", "id", "score", "sentence1", "sentence2")
# Shorter Wikipedia anchors or positives ("He died.", "See below.") carry too little meaning to be worth
# pulling together.
MIN_WIKIPEDIA_WORDS = 5


@dataclass(frozen=True)
class Pair:
    """One training example: `query` should embed closer to `positive` than to the other texts of its
    batch, and closer to `negative` (a text that looks relevant but is not) when there is one."""

    query: str
    positive: str
    source: str
    negative: str | None = None


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
        fields = _fields(row, "qtext", "label", "atext")
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
        for doc in _read_jsonl(root / "corpus.jsonl")
    }
    return _distinct(_cited_abstracts(claims, held_out, abstracts))


def climate_fever_pairs(folder: Path) -> Iterator[Pair]:
    """Climate-FEVER claims to each evidence sentence that supports or refutes them: both are what a
    searcher checking the claim wants to find; NOT_ENOUGH_INFO sentences are only topically close.

    Climate-FEVER has no train split: these 1,535 claims are BEIR's Climate-FEVER test set, so a model
    trained on them must not be evaluated on it.
    """
    for record in _read_jsonl(folder / "climate_fever" / "climate-fever.jsonl.gz"):
        claim = str(record.get("claim") or "").strip()
        for sentence in _relevant_evidence(record) if claim else ():
            yield Pair(claim, sentence, "climate_fever")


def wikipedia_pairs(documents: Iterable[Document], max_pairs: int, seed: int = 0) -> Iterator[Pair]:
    """Self-supervised pairs that cover the topics the labelled sets never touch: an article's title to
    its opening paragraph, and one random sentence to the rest of its paragraph. One sentence pair per
    article spreads `max_pairs` over many articles instead of spending it on the first few long ones;
    `documents` is read lazily, only as far as `max_pairs` needs."""
    rng = random.Random(seed)
    return islice(chain.from_iterable(_article_pairs(document, rng) for document in documents), max_pairs)


def wikipedia_span_pairs(documents: Iterable[Document], max_pairs: int, seed: int = 0, span_words: tuple[int, int] = (8, 64)) -> Iterator[Pair]:
    """Contrastive pre-fine-tuning pairs with no labels at all (Contriever's independent cropping, E5's
    title-passage pairs): two spans drawn independently from one article, which share its topic but not
    always its words, and the title to a random paragraph. Sources "wikipedia:span" and
    "wikipedia:title", so the prefix "wikipedia" selects them with `wikipedia_pairs`'s."""
    rng = random.Random(seed)
    return islice(chain.from_iterable(_span_pairs(document, rng, span_words) for document in documents), max_pairs)


PAIR_SOURCES: dict[str, Callable[[Path], Iterator[Pair]]] = {
    "stsb": stsb_pairs,
    "sick": sick_pairs,
    "msrp": msrp_pairs,
    "trecqa": trecqa_pairs,
    "scifact": scifact_pairs,
    "climate_fever": climate_fever_pairs,
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
    pairs = list(_distinct(chain.from_iterable(readers)))
    random.Random(seed).shuffle(pairs)
    return pairs


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


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Objects of a JSON-lines file (gzip-compressed when it ends in .gz)."""
    with open_text(path) as handle:
        yield from json_objects(handle)


def _fields(row: dict[str, Any], *names: str) -> tuple[str, ...] | None:
    """The named fields of a row, stripped; None when any is missing or empty, which is how a malformed
    line is recognised and skipped."""
    values = tuple(str(row.get(name) or "").strip() for name in names)
    return values if all(values) else None


def _scored_pairs(
    rows: Iterable[dict[str, Any]], source: str, score: str, first: str, second: str, min_score: float
) -> Iterator[Pair]:
    """Pairs of the sentences in columns `first` and `second` of rows whose `score` column reaches
    `min_score`; one reader for every set that labels a sentence pair with a number."""
    for row in rows:
        fields = _fields(row, score, first, second)
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
        fields = _fields(row, "claim", "cited_doc_ids")
        if fields is None or fields[0] in held_out:
            continue
        claim, cited = fields
        for doc_id in cited.strip("[]").split():
            if abstracts.get(doc_id):
                yield Pair(claim, abstracts[doc_id], "scifact")


def _relevant_evidence(record: dict[str, Any]) -> Iterator[str]:
    """The evidence sentences of a Climate-FEVER record labelled SUPPORTS or REFUTES."""
    for evidence in record.get("evidences") or ():
        fields = _fields(evidence, "evidence", "evidence_label") if isinstance(evidence, dict) else None
        if fields is not None and fields[1] in ("SUPPORTS", "REFUTES"):
            yield fields[0]


def _article_pairs(document: Document, rng: random.Random) -> Iterator[Pair]:
    """At most two pairs from one article: title to opening paragraph, and one sentence to the rest of
    its paragraph, each only when both sides are long enough to mean something."""
    if document.title and document.paragraphs and _long_enough(document.paragraphs[0]):
        yield Pair(document.title, document.paragraphs[0], "wikipedia")
    candidates = [
        (sentence, rest)
        for paragraph in document.paragraphs
        for sentence, rest in _sentence_and_rest(paragraph)
        if _long_enough(sentence) and _long_enough(rest)
    ]
    if candidates:
        sentence, rest = rng.choice(candidates)
        yield Pair(sentence, rest, "wikipedia")


def _span_pairs(document: Document, rng: random.Random, span_words: tuple[int, int]) -> Iterator[Pair]:
    """Two random word spans of one article (each of `span_words` words, at most half the article), and
    its title to one random paragraph."""
    words = document.text.split()
    shortest, longest = span_words
    if len(words) >= 2 * shortest:
        spans = []
        for _ in range(2):
            length = rng.randint(shortest, min(longest, len(words) // 2))
            start = rng.randint(0, len(words) - length)
            spans.append(" ".join(words[start:start + length]))
        yield Pair(spans[0], spans[1], "wikipedia:span")
    paragraph = rng.choice(document.paragraphs)
    if document.title and _long_enough(paragraph):
        yield Pair(document.title, paragraph, "wikipedia:title")


def _sentence_and_rest(paragraph: str) -> Iterator[tuple[str, str]]:
    """Each sentence of a paragraph with the paragraph's other sentences, in order, as its context."""
    sentences = split_sentences(paragraph)
    for i, sentence in enumerate(sentences):
        yield sentence.strip(), " ".join(s.strip() for s in sentences[:i] + sentences[i + 1 :])


def _long_enough(text: str) -> bool:
    return len(text.split()) >= MIN_WIKIPEDIA_WORDS


def _distinct(pairs: Iterable[Pair]) -> Iterator[Pair]:
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
    data sets (the GPU machine) can train on them; returns how many were written."""
    opener = lzma.open if Path(path).suffix == ".xz" else open
    count = 0
    with opener(path, "wt", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps({"query": pair.query, "positive": pair.positive, "source": pair.source, "negative": pair.negative}) + "\n")
            count += 1
    return count


def read_pairs(path: Path) -> Iterator[Pair]:
    """Pairs saved by `write_pairs`."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such pairs file")
    for record in _read_jsonl(path):
        fields = _fields(record, "query", "positive")
        if fields:
            yield Pair(*fields, source=str(record.get("source") or Path(path).name), negative=record.get("negative") or None)


# The public pair sets of shared/data/pairs (`encoder.pair_sets`, which needs `Pair` from above, hence
# the late import), so that `finetune --sources` can name them beside the older sources.
from .pair_sets import PAIR_SETS, data_dir_reader  # noqa: E402

PAIR_SOURCES.update({name: data_dir_reader(name) for name in PAIR_SETS})

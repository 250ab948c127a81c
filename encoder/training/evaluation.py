"""How good an `Encoder` is, measured on the public data sets in `shared/data/`.

Two families, as the sentence-embedding literature reports them: semantic textual similarity (STS-B,
SICK-R: Spearman x100 between the cosine of two sentence vectors and the human score) and retrieval on
BEIR folders (nDCG@10, Recall@100, MRR@10, x100, defined as trec_eval defines them so our numbers sit
next to published ones). Only numpy: this runs on the GPU machine, which has nothing else.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ..text_encoder import Encoder, passage_text

Pairs = list[tuple[str, str, float]]
Qrels = dict[str, dict[str, int]]
Rankings = dict[str, list[str]]  # query id -> document ids, best first
ScoredRankings = dict[str, tuple[list[str], list[float]]]  # query id -> (document ids, their scores), best first
Spans = dict[str, list[tuple[int, int]]]  # document id -> its passages' (start, end) in its text, as the indexer cuts them
QRELS_HEADER = ["query-id", "corpus-id", "score"]

# Scores are computed for a block of queries against the whole corpus at once; the block is sized so
# that one block's score matrix stays near this many float32 values (64 MiB), whatever the corpus size.
_SCORE_BLOCK_VALUES = 1 << 24


# --- Files -------------------------------------------------------------------------------------------

def _tsv_rows(path: Path) -> Iterator[list[str]]:
    """Rows of a tab-separated file, read verbatim: these files are not CSV-quoted (a sentence may hold
    a lone '"'), so quote characters must stay text."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        yield from (row for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if row)


def _tsv_records(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a tab-separated file with a header line, keyed by column name."""
    rows = _tsv_rows(path)
    header = next(rows, [])
    for row in rows:
        yield dict(zip(header, row))


def jsonl_records(path: Path) -> Iterator[dict]:
    """The records of a JSON-lines evaluation file, strictly: unlike training data (`corpus.json_objects`),
    a line that does not parse is an error naming the file and line, since a figure measured on part
    of a set would be wrong. A `.gz` file is read through gzip (what travels to the GPU machine)."""
    with (gzip.open(path, "rt", encoding="utf-8") if Path(path).suffix == ".gz" else Path(path).open(encoding="utf-8")) as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as error:
                    raise ValueError(f"{path}, line {number}: not valid JSON ({error})") from None


# --- Semantic textual similarity ---------------------------------------------------------------------

def read_stsb(path: Path) -> Pairs:
    """(sentence1, sentence2, score 0-5) from an STS-B file; columns after sentence2 name the source of
    a few pairs and are ignored."""
    return [(row[5], row[6], float(row[4])) for row in _tsv_rows(path)]


def read_sick(path: Path, split: str = "TEST") -> Pairs:
    """(sentence_A, sentence_B, relatedness 1-5) of one official SICK split (TRAIN, TRIAL or TEST)."""
    records = list(_tsv_records(path))
    pairs = [(r["sentence_A"], r["sentence_B"], float(r["relatedness_score"])) for r in records if r["SemEval_set"] == split]
    if not pairs:
        found = sorted({r["SemEval_set"] for r in records})
        raise ValueError(f"{path} has no {split!r} rows; its splits are {found}")
    return pairs


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, tied values sharing the mean of the ranks they span (gold STS scores tie a lot)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    run_starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    run_ends = np.r_[run_starts[1:], len(values)]
    run_of_position = np.repeat(np.arange(len(run_starts)), run_ends - run_starts)
    ranks = np.empty(len(values))
    ranks[order] = ((run_starts + run_ends + 1) / 2)[run_of_position]
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation; NaN where one side is constant (undefined, as in scipy), so that a
    collapsed model shows up in the results table rather than aborting the whole evaluation."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need two 1-D sequences of equal length >= 2, got shapes {x.shape} and {y.shape}")
    rx, ry = _average_ranks(x), _average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    norm = np.sqrt((rx @ rx) * (ry @ ry))
    return float(rx @ ry / norm) if norm > 0 else float("nan")


def sts_spearman(encoder: Encoder, pairs: Pairs, batch_size: int = 64) -> float:
    """Spearman x100 between the cosine of each pair's two vectors and its gold score."""
    first, second, gold = zip(*pairs)
    vectors = encoder.encode(list(first) + list(second), batch_size=batch_size)
    left, right = vectors[: len(pairs)], vectors[len(pairs):]
    return 100 * spearman(np.einsum("ij,ij->i", left, right), gold)


STS_SETS: dict[str, tuple[Callable[[Path], Pairs], str]] = {
    "stsb-test": (read_stsb, "stsb/sts-test.csv"),
    "sick-r-test": (read_sick, "sick/SICK.txt"),
    "stsb-dev": (read_stsb, "stsb/sts-dev.csv"),
}
DEFAULT_STS_SETS = ("stsb-test", "sick-r-test")  # the test sets papers report


def evaluate_sts(
    encoder: Encoder, data_dir: Path, sets: Sequence[str] = DEFAULT_STS_SETS, batch_size: int = 64
) -> dict[str, dict[str, float]]:
    """{set name: {"spearman": x100, "pairs": count}}; the default sets are the ones papers report."""
    unknown = [name for name in sets if name not in STS_SETS]
    if unknown:
        raise ValueError(f"unknown STS sets {unknown}; known: {sorted(STS_SETS)}")
    results = {}
    for name in sets:
        reader, relative = STS_SETS[name]
        pairs = reader(Path(data_dir) / relative)
        results[name] = {"spearman": sts_spearman(encoder, pairs, batch_size), "pairs": len(pairs)}
    return results


# --- Retrieval -----------------------------------------------------------------------------------------

@dataclass
class BeirSet:
    """One BEIR split: the corpus (id -> (title, text)), its judged queries and their graded qrels."""

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: Qrels


def read_beir(folder: Path, split: str = "test") -> BeirSet:
    """Load a BEIR folder's corpus (`corpus.jsonl`, or `corpus.jsonl.gz` where that is absent) and its
    judged queries (`read_judged`)."""
    folder = Path(folder)
    corpus_path = folder / "corpus.jsonl"
    if not corpus_path.exists() and (folder / "corpus.jsonl.gz").is_file():
        corpus_path = folder / "corpus.jsonl.gz"
    corpus = {str(d["_id"]): (d.get("title") or "", d.get("text") or "") for d in jsonl_records(corpus_path)}
    queries_path, qrels_path = folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"
    with queries_path.open(encoding="utf-8") as queries, qrels_path.open(encoding="utf-8", newline="") as qrels:
        judged_queries, judged = read_judged(queries, qrels, str(queries_path), str(qrels_path))
    return BeirSet(corpus=corpus, queries=judged_queries, qrels=judged)


def read_judged(queries: Iterable[str], qrels: Iterable[str], queries_name: str, qrels_name: str) -> tuple[dict[str, str], Qrels]:
    """The lines of a BEIR queries.jsonl and of a qrels TSV (a header naming query-id, corpus-id and score) as
    (id -> text, qrels), keeping only the queries with at least one relevant (grade > 0) document: a
    query with none scores 0 under every metric whatever the model does, so it would only dilute the
    mean. A bad line is a ValueError naming its file (`*_name`) and line."""
    texts: dict[str, str] = {}
    for number, line in enumerate(queries, start=1):
        if line.strip():
            try:
                record = json.loads(line)
                texts[str(record["_id"])] = str(record["text"])
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{queries_name}, line {number}: expected a JSON object with \"_id\" and \"text\" "
                                 f"({type(error).__name__}: {error})") from None
    rows = csv.reader(qrels, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows, [])
    if not set(QRELS_HEADER) <= set(header):
        raise ValueError(f"{qrels_name}, line 1: expected a header naming the columns {', '.join(QRELS_HEADER)}, got {chr(9).join(header)!r}")
    query, corpus, score = (header.index(name) for name in QRELS_HEADER)
    judged: Qrels = {}
    for row in rows:
        if not row:
            continue
        if len(row) < len(header) or not row[score].strip().lstrip("-").isdigit():
            raise ValueError(f"{qrels_name}, line {rows.line_num}: expected {', '.join(header)} with a whole-number score, got {row!r}")
        judged.setdefault(row[query], {})[row[corpus]] = int(row[score])
    relevant = {qid: grades for qid, grades in judged.items() if any(g > 0 for g in grades.values())}
    missing = sorted(set(relevant) - set(texts))
    if missing:
        raise ValueError(f"{qrels_name}: judges {len(missing)} queries absent from {queries_name}, e.g. {missing[:3]}")
    return {qid: texts[qid] for qid in relevant}, relevant


def _dcg(gains: Sequence[float]) -> float:
    return sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))


def ndcg_at_k(ranking: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG@k with the grade itself as gain and the ideal DCG taken from all judged documents, as
    trec_eval (and so BEIR) computes it; a document judged relevant but never retrieved still counts
    in the ideal."""
    ideal = _dcg(sorted((g for g in relevant.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return _dcg([max(relevant.get(doc, 0), 0) for doc in ranking[:k]]) / ideal


def recall_at_k(ranking: Sequence[str], relevant: dict[str, int], k: int = 100) -> float:
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    return len(wanted.intersection(ranking[:k])) / len(wanted) if wanted else 0.0


def mrr_at_k(ranking: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    for rank, doc in enumerate(ranking[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1 / rank
    return 0.0


RETRIEVAL_METRICS: dict[str, Callable[[Sequence[str], dict[str, int]], float]] = {
    "ndcg@10": partial(ndcg_at_k, k=10),
    "recall@100": partial(recall_at_k, k=100),
    "mrr@10": partial(mrr_at_k, k=10),
}


def retrieval_metrics(rankings: dict[str, list[str]], qrels: Qrels) -> dict[str, float]:
    """Each metric's mean x100 over the judged queries; a query missing from `rankings` scores 0 rather
    than dropping out, so a retriever cannot gain by answering only the easy queries."""
    if not qrels:
        raise ValueError("no judged queries to evaluate")
    return {
        name: 100 * float(np.mean([metric(rankings.get(qid, []), grades) for qid, grades in qrels.items()]))
        for name, metric in RETRIEVAL_METRICS.items()
    }


def dense_rankings(
    encoder: Encoder, beir: BeirSet, k: int = 100, batch_size: int = 64, show_progress: bool = False
) -> Rankings:
    """Top-k document ids per query by exact inner product (`dense_lists` without the scores)."""
    return {qid: ids for qid, (ids, _) in dense_lists(encoder, beir, k, batch_size, show_progress).items()}


def dense_lists(
    encoder: Encoder, beir: BeirSet, k: int = 100, batch_size: int = 64, show_progress: bool = False, passages: Spans | None = None,
    passage_depth: int | None = None,
) -> ScoredRankings:
    """Top-k document ids per query by exact inner product (cosine: the vectors are unit length), with
    their cosines, which a hybrid fusion needs. A document is its title and text as far as the encoder
    reads, or, with `passages` (its passages' spans, cut as the indexer cuts them), its best passage,
    titled: how the search service ranks it, which a long document's opening alone would not tell.
    `passage_depth`: only documents whose best passage is among the query's top that many, as a search
    that takes that many chunks lists them (which documents a fusion finds in the dense list matters)."""
    doc_ids = list(beir.corpus)
    query_ids = list(beir.queries)
    if passages is None:
        texts, firsts = [f"{title} {text}".strip() for title, text in beir.corpus.values()], np.arange(len(doc_ids))
    else:
        spans = [passages.get(doc) or [(0, len(beir.corpus[doc][1]))] for doc in doc_ids]
        texts = [passage_text(beir.corpus[doc][0], beir.corpus[doc][1][start:end]) for doc, ss in zip(doc_ids, spans) for start, end in ss]
        firsts = np.cumsum([0] + [len(ss) for ss in spans[:-1]])
    vectors = encoder.encode(texts, batch_size=batch_size, show_progress=show_progress)
    queries = encoder.encode([beir.queries[qid] for qid in query_ids], batch_size=batch_size, show_progress=show_progress)
    k = min(k, len(doc_ids))
    block = max(1, _SCORE_BLOCK_VALUES // max(1, len(texts)))
    lists = {}
    for start in range(0, len(query_ids), block):
        by_passage = queries[start:start + block] @ vectors.T
        scores = np.maximum.reduceat(by_passage, firsts, axis=1)  # each document's best passage
        if passage_depth is not None and passage_depth < by_passage.shape[1]:
            floor = np.partition(by_passage, -passage_depth, axis=1)[:, -passage_depth:].min(axis=1, keepdims=True)
            scores = np.where(scores >= floor, scores, -np.inf)
        for qid, row, top in zip(query_ids[start:start + block], scores, _top_k(scores, k)):
            top = top[np.isfinite(row[top])]
            lists[qid] = ([doc_ids[i] for i in top], row[top].tolist())
    return lists


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k highest scores, best first; argpartition keeps this linear in the
    corpus size, only the k survivors are sorted."""
    if k == 0:
        return np.empty((len(scores), 0), dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, candidates, axis=1), axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1)


def evaluate_retrieval(encoder: Encoder, folder: Path, batch_size: int = 64, show_progress: bool = False,
                       split: str = "test") -> dict[str, float]:
    """Dense retrieval metrics on one BEIR folder's `split` (`qrels/<split>.tsv`), with the query and
    document counts they rest on."""
    beir = read_beir(folder, split)
    rankings = dense_rankings(encoder, beir, k=100, batch_size=batch_size, show_progress=show_progress)
    return {**retrieval_metrics(rankings, beir.qrels), "queries": len(beir.queries), "documents": len(beir.corpus)}

"""What the operator's commands print (`manage.py encode`, `index`, `check`): one summary per run, in
words a person reads at a terminal, made apart from the commands so that they only run and print."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from encoder import Encoder
from indexer.ingest import IndexReport
from indexer.inspection import CheckReport

SHOWN_COMPONENTS = 6  # of each vector
SHOWN_TEXT_CHARS = 60
REPAIR_HINT = "store and index disagree (run `manage.py check --repair` to rebuild the index from the store)"


def encode_report(model: Path, encoder: Encoder, texts: list[str], vectors: np.ndarray) -> str:
    """The model's shape, each text's vector (norm and first components), and, for several texts, their
    cosine similarities: enough to see at a glance that a checkpoint loads and tells texts apart."""
    compute = str(encoder.compute_dtype).removeprefix("torch.")
    lines = [f"model {model}: dim {encoder.dim}, max length {encoder.max_length}, pooling {encoder.pooling}, compute {compute}"]
    for i, (text, vector) in enumerate(zip(texts, vectors)):
        head = " ".join(f"{x:+.4f}" for x in vector[:SHOWN_COMPONENTS])
        lines.append(f"[{i}] norm {np.linalg.norm(vector):.4f}  [{head} ...]  {text[:SHOWN_TEXT_CHARS]!r}")
    if len(vectors) > 1:
        lines.append("cosine similarities:")
        lines += [f"[{i}] " + " ".join(f"{x:6.3f}" for x in row) for i, row in enumerate(vectors @ vectors.T)]
    return "\n".join(lines)


def index_summary(report: IndexReport) -> str:
    """One line of counts and speed; the bad records themselves are the caller's to print (to stderr)."""
    rate = report.read / report.seconds if report.seconds else 0.0
    return (f"read {report.read}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.bad} bad; {report.chunks} chunks; {report.seconds:.1f}s ({rate:,.0f} docs/s)")


def check_summary(report: CheckReport) -> str:
    """The counts, one line per problem, and the verdict (with the command that repairs)."""
    lines = [f"{report.documents} documents, {report.chunks} chunks, {report.vectors} vectors"]
    lines += [f"problem: {problem}" for problem in report.problems]
    lines.append("ok" if report.ok else REPAIR_HINT)
    return "\n".join(lines)

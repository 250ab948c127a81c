"""The progress bar of an index run: documents done out of the input's count, moved as encoding goes.

Documents are committed a few thousand at a time (that is what makes a killed run resumable), and on a
CPU the first such batch takes minutes to encode, so a bar moved once per batch sat at `0doc` all that
time. This one moves after every encode batch: while the P passages of a batch of D documents are
encoded, p of them done show as D·p/P documents done. The total is the input's line count where a
line is a record (JSONL, BEIR; CSV and TSV less their header), one pass at disk speed before the
first document is read; bad or blank lines and quoted line breaks make it an estimate, so it is set
to the true count when the run ends. A folder of files has no cheap count and shows none.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from .readers import resolve_input
from .record_spans import open_bytes

if TYPE_CHECKING:
    from .ingest import IndexReport

_LINE_FORMATS = {"jsonl": 0, "beir": 0, "csv": 1, "tsv": 1}  # format -> header lines
_CHUNK = 1 << 20


def count_records(paths: Sequence[Path], format: str = "auto") -> int | None:
    """The records in `paths` as their lines count them, or None where that is not cheap or not
    possible (a folder, an unreadable path: the reader then says what is wrong)."""
    total = 0
    for path in paths:
        try:
            kind, file = resolve_input(Path(path), format)
            if kind not in _LINE_FORMATS:
                return None
            total += max(0, _count_lines(file) - _LINE_FORMATS[kind])
        except (OSError, ValueError, EOFError, zlib.error):  # a corrupt .gz too
            return None
    return total


def _count_lines(path: Path) -> int:
    lines, last = 0, b"\n"
    with open_bytes(path) as handle:
        while chunk := handle.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")  # a last line without its newline


class IndexProgress:
    """A tqdm bar over documents for `index_records`; disabled, it costs nothing."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.bar = tqdm(total=total, unit="doc", desc="index", disable=not enabled)
        self._base = 0  # documents done when the current batch began
        self._documents = 0  # documents in the current batch
        self._encoded = 0  # passages of the current batch encoded so far
        self._passages = 0  # passages written by the batches before

    def start_batch(self, documents: int) -> None:
        self._base, self._documents, self._encoded = self.bar.n, documents, 0

    def encoded(self, count: int, of: int) -> None:
        """`count` more of the current batch's `of` passages are encoded."""
        self._encoded += count
        self._advance(self._base + self._documents * self._encoded // of)
        self.bar.set_postfix(passages=self._passages + self._encoded, refresh=False)

    def end_batch(self, report: IndexReport) -> None:
        """The batch is committed: `report` holds the run's counts so far."""
        self._passages = report.chunks
        self._advance(report.read + report.bad)
        self.bar.set_postfix(passages=report.chunks, new=report.added, updated=report.updated, same=report.unchanged, bad=report.bad)

    def _advance(self, documents: int) -> None:
        if documents > self.bar.n:
            self.bar.update(documents - self.bar.n)

    def __enter__(self) -> IndexProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if kind is None and self.bar.total is not None and self.bar.total != self.bar.n:
            self.bar.total = self.bar.n  # the count was an estimate: end at 100%
            self.bar.refresh()
        self.bar.close()

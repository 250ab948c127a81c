"""New vectors of a model not yet switched to (`adapt`), kept outside the store until every chunk has one.

One `.npz` file per batch, each written whole or not at all, holding the chunks' ids, their vectors and
the digest of the text each was encoded from (`encoder.training.adapt_export.text_digest` of the titled
passage, as indexing encodes it). A vector counts only while its chunk's text still has that digest: a chunk rewritten since (an
update deletes a document's chunks and writes new ones, and SQLite can give a new chunk the id of a
deleted one) is encoded again, so a run resumed after writes, or vectors encoded on another machine
from an export, can never put a stale vector in the store. Where a chunk was staged twice, the later
part's vector is the one kept.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from encoder import atomic_write


class Staging:
    """The staged vectors of one model (a folder left by another model's run is cleared)."""

    MODEL_FILE = "model.txt"

    def __init__(self, path: Path, model: Path) -> None:
        self.path = path
        if (path / self.MODEL_FILE).is_file() and (path / self.MODEL_FILE).read_text(encoding="utf-8") != str(model):
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        atomic_write(path / self.MODEL_FILE, lambda temp: temp.write_text(str(model), encoding="utf-8"))
        self.added = 0
        self._next_part = len(self._parts())  # counted once: a run over ten million chunks writes thousands of parts

    def _parts(self) -> list[Path]:
        return sorted(self.path.glob("part-*.npz"))

    def add(self, ids: np.ndarray, vectors: np.ndarray, digests: np.ndarray) -> None:
        name = self.path / f"part-{self._next_part:06d}.npz"
        atomic_write(name, lambda temp: _write_part(temp, ids, vectors, digests))
        self._next_part += 1
        self.added += len(ids)

    def current(self, ids: np.ndarray, digests: np.ndarray) -> np.ndarray:
        """Which of the chunks `ids` (ascending), whose texts now have `digests`, have a staged vector of that text."""
        staged_ids, staged_digests = self._latest(("ids", "digests"))
        if not len(staged_ids):
            return np.zeros(len(ids), bool)
        at = np.minimum(np.searchsorted(staged_ids, ids), len(staged_ids) - 1)
        return (staged_ids[at] == ids) & (staged_digests[at] == digests)

    def vectors(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the `wanted` chunks, ascending (a chunk deleted since its batch was written is left out)."""
        ids, vectors = self._latest(("ids", "vectors"))
        keep = np.isin(ids, wanted)
        return ids[keep], vectors[keep]

    def _latest(self, fields: tuple[str, ...]) -> tuple[np.ndarray, ...]:
        """`fields` of every staged chunk, by ascending id, the later part's where one was staged twice; parts
        written before digests were kept are left out (their chunks are encoded again)."""
        read: list[list[np.ndarray]] = [[] for _ in fields]
        for part in self._parts():
            with np.load(part) as arrays:  # closed at once: thousands of parts would run out of file handles
                if "digests" in arrays.files:
                    for column, field in zip(read, fields):
                        column.append(arrays[field])
        if not read[0]:
            return tuple(np.empty(0, np.int64) for _ in fields)
        columns = [np.concatenate(column) for column in read]
        ids = columns[0]
        _, last = np.unique(ids[::-1], return_index=True)  # each id's last occurrence, counted from the end
        chosen = len(ids) - 1 - last
        return tuple(column[chosen] for column in columns)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _write_part(path: Path, ids: np.ndarray, vectors: np.ndarray, digests: np.ndarray) -> None:
    with path.open("wb") as handle:  # a file, not a name: np.savez would add ".npz" to the temporary name
        np.savez(handle, ids=np.asarray(ids, np.int64), vectors=np.asarray(vectors, np.float32), digests=np.asarray(digests, np.int64))

"""Checksums of the files a saved index version is made of, and their verification.

A FAISS or numpy file with some of its bytes changed still loads and serves nonsense (dense scores of
1e38, BM25 rows out of range), and a truncated one can fail anywhere in the loader. So the size and
SHA-256 of every file of a version are recorded in the version file, which is written last, and a file
is checked against its record before FAISS or numpy ever reads it. SHA-256 rather than a CRC: with the
CPU's SHA extensions it hashes as fast as zlib's CRC-32, and 2.5× faster than BLAKE2b
(bench/integrity.py, docs/benchmarks.md), so nothing is gained by a weaker checksum.

The hash is taken from the temporary file before the rename that publishes it, so the time between a
file's rename and the version file's rename, when a reader can see a new file under an old record,
is one small write rather than a hash of the whole index.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from encoder import atomic_write

BLOCK = 1 << 20  # bytes hashed per read
_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FileRecord:
    """What a file of a saved version must be: its size in bytes and the SHA-256 of its content."""

    size: int
    sha256: str

    def as_json(self) -> dict:
        return {"size": self.size, "sha256": self.sha256}

    @classmethod
    def from_json(cls, value: object) -> "FileRecord":
        """Refuses (ValueError) anything a garbled version file could hold instead of a record."""
        if not isinstance(value, dict) or not isinstance(value.get("size"), int) or isinstance(value.get("size"), bool) \
                or value["size"] < 0 or not isinstance(value.get("sha256"), str) or not _HEX.fullmatch(value["sha256"]):
            raise ValueError(f"not a file record: {str(value)[:80]}")
        return cls(value["size"], value["sha256"])


def record(path: Path) -> FileRecord:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return FileRecord(os.path.getsize(path), digest.hexdigest())


def problem(folder: Path, name: str, expected: FileRecord) -> str | None:
    """Why the file `name` of `folder` is not the one recorded, in a few words; None when it is. The
    size is compared first: a missing or truncated file is found without reading it."""
    try:
        size = os.path.getsize(folder / name)
    except FileNotFoundError:
        return f"{name}: missing"
    except OSError as error:
        return f"{name}: unreadable ({error.strerror})"
    if size != expected.size:
        return f"{name}: {size:,} bytes, {expected.size:,} when saved (truncated or replaced)"
    try:
        actual = record(folder / name)
    except OSError as error:
        return f"{name}: unreadable ({error.strerror})"
    if actual.sha256 != expected.sha256:
        return f"{name}: checksum mismatch (its bytes changed after it was saved)"
    return None


def problems(folder: Path, files: Mapping[str, FileRecord]) -> list[str]:
    """One line per file of `files` that is not as recorded."""
    return [found for name, expected in files.items() if (found := problem(folder, name, expected))]


def write_recorded(path: Path, write: Callable[[Path], None]) -> FileRecord:
    """`atomic_write(path, write)`, returning the record of what was written (taken before the rename)."""
    taken: list[FileRecord] = []

    def write_and_record(temp: Path) -> None:
        write(temp)
        taken.append(record(temp))

    atomic_write(path, write_and_record)
    return taken[0]


def file_states(folder: Path, names: Iterable[str]) -> tuple:
    """(name, inode, size, mtime) of each file, None for one that is absent: cheap to take on every
    request, and different as soon as a file is replaced or written in place."""
    states, root = [], str(folder)
    for name in names:
        try:
            stat = os.stat(os.path.join(root, name))  # os.path rather than pathlib: this runs on every request
            states.append((name, stat.st_ino, stat.st_size, stat.st_mtime_ns))
        except OSError:
            states.append((name, None))
    return tuple(states)

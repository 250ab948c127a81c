"""Writing a file or a folder so that a crash leaves the old state or the new one, never a torn mix.

Both go the same way: write under a temporary name beside the target, fsync what was written, rename
it into place, then fsync the parent folder so that the rename itself survives a power cut. The
temporary names are made here rather than by `mkstemp`/`mkdtemp`, so what is written gets the usual
permissions (umask) rather than owner-only ones.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, fsync, then rename over `path`.

    A crash at any point leaves either the old file or the new one, never a mix, and processes that
    mapped the old file keep their inode.
    """
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temp)
        _fsync(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def atomic_folder(folder: Path, write: Callable[[Path], None]) -> None:
    """Create `folder` with what `write` puts into the (empty, existing) folder it is given.

    A crash at any point leaves no `folder` or the complete one. POSIX cannot replace a folder that
    holds files in one step, so `folder` must not exist yet (FileExistsError, before anything is
    written): a new version of a folder goes under a new name. The temporary folder is named after
    `folder` (`NAME.<random>.tmp`, not hidden), so that a caller that sweeps old folders by their
    name's prefix also sweeps one that a crash left behind.
    """
    if folder.exists():
        raise FileExistsError(f"{folder}: already exists; a folder is written under a name of its own, never over another")
    temp = folder.with_name(f"{folder.name}.{uuid.uuid4().hex}.tmp")
    temp.mkdir()
    try:
        write(temp)
        for path in temp.rglob("*"):  # the files' contents, and the entries of any folders among them
            _fsync(path)
        _fsync(temp)
        os.rename(temp, folder)  # refused if a folder with files took the name meanwhile
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    _fsync(folder.parent)


def _fsync(path: Path) -> None:
    """Flush a file's contents, or a folder's entries, to the disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)

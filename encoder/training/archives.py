"""Reading the public pair sets inside their `NAME.tar.xz` archives, in place: `tarfile` streams
them, member by member, in archive order, so no set is ever unpacked to disk."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path


def open_archive(pairs_dir: Path, archive: str) -> tarfile.TarFile:
    path = Path(pairs_dir) / f"{archive}.tar.xz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such pair archive")
    return tarfile.open(path, "r:xz")


def archive_members(archive: tarfile.TarFile, wanted: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the regular files whose name `wanted` accepts, in archive order (one pass over
    the compressed stream, however many members)."""
    for member in archive:
        if member.isfile() and wanted(member.name):
            handle = archive.extractfile(member)
            if handle is not None:
                yield member.name, handle.read()


def member_text(archive: tarfile.TarFile, name: str) -> str:
    try:
        handle = archive.extractfile(name)
    except KeyError:
        raise FileNotFoundError(f"{archive.name}: no member {name}") from None
    if handle is None:
        raise FileNotFoundError(f"{archive.name}: {name} is not a file")
    return handle.read().decode("utf-8-sig", errors="replace")


def member_lines(archive: tarfile.TarFile, name: str) -> list[str]:
    return member_text(archive, name).splitlines()

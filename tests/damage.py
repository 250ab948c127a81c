"""Ways a saved index file gets damaged, applied in place to an instance folder (importable from any
test folder): the cases the integrity tests run through check, repair, writers and the search service."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

# The files of a saved version, by role; "lexical/NAME" is resolved to the current BM25 folder.
TARGETS = ("vectors.faiss", "vectors.faiss.meta.json", "vectors.json", "lexical/rows.npy", "lexical/documents/rows.npy")
KINDS = ("truncate", "random", "garbage", "missing")
# Every (target, kind) pair, and the whole BM25 folder removed.
CASES = [(target, kind) for target in TARGETS for kind in KINDS] + [("lexical", "missing")]
CASE_IDS = [f"{target}-{kind}" for target, kind in CASES]


def resolve(folder: Path, target: str) -> Path:
    if target.startswith("lexical"):
        lexical = folder / json.loads((folder / "vectors.json").read_text())["lexical"]
        return lexical / target.partition("/")[2] if "/" in target else lexical  # "lexical/documents/…" too
    return folder / target


def damage(folder: Path, target: str, kind: str, seed: int = 0) -> Path:
    """Damage `target` of the instance in `folder` as `kind` says, writing in place (the same inode,
    as `cp` or a failing disk would); returns the path damaged."""
    path = resolve(folder, target)
    if kind == "missing":
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        return path
    data = path.read_bytes()
    if kind == "truncate":
        data = data[: len(data) // 2]
    elif kind == "random":  # over the middle, size unchanged: for the FAISS file, over the vector data
        start, length = len(data) // 4, max(1, len(data) // 2)
        data = data[:start] + random.Random(seed).randbytes(length) + data[start + length:]
    else:
        data = b"\x00garbage\xff" * 8
    with open(path, "r+b") as handle:
        handle.write(data)
        handle.truncate(len(data))
    return path

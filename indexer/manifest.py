"""The version file (`vectors.json`): which saved version of the indexes is current, and the size and
checksum of every file it is made of.

A version is three components, each loaded (or found damaged) on its own: `vectors` (the FAISS file
and its sidecar), `lexical` (the BM25 folder of that version, over passages) and `document_lexical`
(BM25 over whole documents, in that folder's `documents/`). A version saved before the last existed
still reads, without it: the instance serves it built from the store until the next save. The version file is written last, by
one atomic rename, so it never names a file that was not completely written; everything in it is
checked when it is read, since it is the one file that says what every other file must be.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from encoder import atomic_write

from .checksums import FileRecord
from .lexical import FILES as LEXICAL_FILES
from .vector_index import INDEX_TYPES, sidecar

VECTORS_FILE = "vectors.faiss"
VERSION_FILE = "vectors.json"
LEXICAL_PREFIX = "lexical-"
COMPONENTS = ("vectors", "lexical", "document_lexical")
DOCUMENTS_FOLDER = "documents"  # the whole-document BM25 index, inside the passage one's folder
ADDED_LATER = {"document_lexical"}  # components a version saved by older code lacks
_LEXICAL_NAME = re.compile(re.escape(LEXICAL_PREFIX) + r"[0-9]+")


def component_files(lexical: str) -> dict[str, tuple[str, ...]]:
    """The files of each component, as paths relative to the instance folder."""
    return {"vectors": (VECTORS_FILE, sidecar(Path(VECTORS_FILE)).name),
            "lexical": tuple(f"{lexical}/{name}" for name in LEXICAL_FILES),
            "document_lexical": tuple(f"{lexical}/{DOCUMENTS_FOLDER}/{name}" for name in LEXICAL_FILES)}


@dataclass(frozen=True)
class Manifest:
    version: int
    index_type: str
    vectors: int  # live vectors in the FAISS file
    lexical: str  # the BM25 folder's name
    files: dict[str, FileRecord]
    model: str | None = None  # the checkpoint that made the vectors (None in versions saved by older code)

    def files_of(self, component: str) -> dict[str, FileRecord]:
        return {name: self.files[name] for name in component_files(self.lexical)[component]}

    @property
    def components(self) -> tuple[str, ...]:
        """The components this version holds: all of them, unless older code saved it."""
        return tuple(c for c in COMPONENTS if all(name in self.files for name in component_files(self.lexical)[c]))

    def write(self, folder: Path) -> None:
        atomic_write(folder / VERSION_FILE, lambda temp: temp.write_text(json.dumps({
            "version": self.version, "type": self.index_type, "vectors": self.vectors, "lexical": self.lexical,
            "files": {name: record.as_json() for name, record in self.files.items()},
            **({"model": self.model} if self.model else {})}), encoding="utf-8"))

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The folder's version file; None where there is none (nothing was saved yet). Raises
        ValueError, saying why in a few words, for one that cannot be trusted."""
        try:
            return cls.parse((folder / VERSION_FILE).read_bytes())
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ValueError(f"unreadable ({error.strerror})") from None

    @classmethod
    def parse(cls, text: bytes) -> Manifest:
        try:
            saved = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError("not JSON (garbled)") from None
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object (garbled)")
        version, index_type, vectors, lexical = (saved.get(key) for key in ("version", "type", "vectors", "lexical"))
        if not _is_count(version) or version < 1 or index_type not in INDEX_TYPES or not _is_count(vectors) \
                or not isinstance(lexical, str) or not _LEXICAL_NAME.fullmatch(lexical):
            raise ValueError("its version, type, vector count or BM25 folder is not valid (garbled)")
        if "files" not in saved:
            raise ValueError("records no checksums (saved by an older version of bertsearch)")
        files = saved["files"]
        expected = component_files(lexical)
        listed = {name for names in expected.values() for name in names}
        older = {name for component, names in expected.items() if component not in ADDED_LATER for name in names}
        if not isinstance(files, dict) or set(files) not in (listed, older):
            raise ValueError("does not list the files of a saved version (garbled)")
        model = saved.get("model")
        if model is not None and not isinstance(model, str):
            raise ValueError("its model is not a path (garbled)")
        return cls(version, index_type, vectors, lexical, {name: FileRecord.from_json(value) for name, value in files.items()}, model)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

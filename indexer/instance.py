"""The instance folder: its writer lock, the model it is pinned to, and the saved versions of its
indexes as one process reads and writes them.

A saved version is the BM25 folder of that version (passages, and whole documents in a subfolder),
the FAISS file and its sidecar, and the version file (see `manifest`) that lists them with their sizes and checksums, written last. Every file is
verified before it is loaded, so a damaged one is never served; which of its components loaded and
what was wrong is reported to `SearchIndex`, which decides what to keep in memory.

A reader notices a new version (or a file replaced or written on) by comparing the folder's state
with the one it saw last: the version file's bytes and the `stat` of the files it lists, cheap
enough for every request.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from encoder import Encoder
from encoder.checkpoint import WEIGHTS_FILE

from . import checksums
from .lexical import LexicalIndex
from .manifest import COMPONENTS, DOCUMENTS_FOLDER, LEXICAL_PREFIX, VECTORS_FILE, VERSION_FILE, Manifest
from .schema import StoreError
from .store import Store
from .vector_index import VectorIndex

DATABASE_FILE = "search.sqlite3"
LOCK_FILE = "write.lock"


def store_url(folder: str | Path, database_url: str | None = None) -> str:
    """The instance's database: `database_url`, else SQLite inside the folder."""
    return database_url or f"sqlite:///{Path(folder) / DATABASE_FILE}"


@contextmanager
def write_lock(folder: str | Path) -> Iterator[None]:
    """Hold the instance's writer lock (an OS file lock, so it dies with its process). Writers open
    the index inside it, so each starts from the last writer's saved state."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pin_model(folder: Path, store: Store, model: str | Path | None, default_model: str | Path | None) -> tuple[Path, int]:
    """The instance's model and its dimension: `model`, else the one the store records, else
    `default_model`. The store remembers the choice. Another model than the one that made the stored
    vectors is refused, since a query it encodes could not be compared with them (even at the same
    dimension: the content hashes would skip re-encoding unchanged documents); an instance with no
    chunks yet may change its model, if the dimension is the same."""
    known = store.get("model")
    chosen = next((Path(m) for m in (model, known, default_model) if m), None)
    if chosen is None:
        raise StoreError(f"{folder}: no model recorded for this instance; pass one")
    if known and not same_weights(Path(known), chosen) and store.has_chunks():
        raise StoreError(f"{folder}: its vectors were made by {known}; {chosen} would encode queries and new documents "
                         f"in another space than theirs: index into a new instance, or leave out the model")
    dim = store.get("dim")
    if dim is None or (known and Path(known) != chosen):
        encoder_dim = Encoder.load(chosen).dim
        if dim is not None and int(dim) != encoder_dim:
            raise StoreError(f"{folder}: built with {known} (dim {dim}); {chosen} has dim {encoder_dim}: use another instance")
        store.put({"model": str(chosen), "dim": str(encoder_dim)})
        dim = encoder_dim
    return chosen, int(dim)



def same_weights(recorded: Path, chosen: Path) -> bool:
    """Whether `chosen` holds the weights the instance recorded: the same folder, or the same bytes in
    another. A recorded folder that is gone (the instance, or the repository, moved) cannot be
    compared, and is taken to have moved to `chosen`."""
    if recorded.resolve() == chosen.resolve() or not (recorded / WEIGHTS_FILE).is_file():
        return True
    return (chosen / WEIGHTS_FILE).is_file() and checksums.record(recorded / WEIGHTS_FILE) == checksums.record(chosen / WEIGHTS_FILE)


class ModelEncoders:
    """The encoders one process has loaded, by model folder: the instance's, and for the moment of a
    switch of model (`adapt`) the one that made the vectors just loaded, so that a query is always
    encoded by the model of the vectors it is compared with."""

    def __init__(self, precision: str) -> None:
        self.precision = precision
        self._loaded: dict[Path, Encoder] = {}

    def get(self, model: Path) -> Encoder:
        encoder = self._loaded.get(model)
        if encoder is None:
            encoder = self._loaded[model] = Encoder.load(model, precision=self.precision)
        return encoder

    def of_vectors(self, vectors: VectorIndex, instance_model: Path) -> Encoder:
        """The encoder of the model that made `vectors` (their version file names it), else the
        instance's: where older code saved them, or the model folder has moved away since."""
        model = vectors.model if vectors.model is not None and vectors.model.is_dir() else instance_model
        encoder = self.get(model)
        for other in [m for m in self._loaded if m not in (model, instance_model)]:
            self._loaded.pop(other, None)
        return encoder


@dataclass
class SavedVersion:
    """What reading the folder found: the version file (None where there is none or it is
    unreadable), each component that verified and loaded, and one line per problem."""

    manifest: Manifest | None
    components: dict[str, VectorIndex | LexicalIndex] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class InstanceFolder:
    """The saved indexes of one instance folder, and what this process has seen and mapped of them."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self.seen: tuple | None = None  # the folder's state when it was last read or written
        self._mapped: dict[str, tuple] = {}  # file states of each memory-mapped component, as loaded
        self._listed: tuple[bytes | None, list[str]] = (None, [])  # a version file's bytes and the files it lists

    def state(self) -> tuple:
        """The version file's bytes and the `stat` of each file it lists or that is mapped: what
        tells a reader that something changed."""
        mapped = [state[0] for states in self._mapped.values() for state in states]
        try:
            text = (self.path / VERSION_FILE).read_bytes()
        except OSError:
            return (None, checksums.file_states(self.path, mapped))
        if self._listed[0] != text:  # parsed once per version file, not on every request
            try:
                self._listed = (text, list(Manifest.parse(text).files))
            except ValueError:
                self._listed = (text, [])
        return (text, checksums.file_states(self.path, dict.fromkeys(self._listed[1] + mapped)))

    def read(self, mmap: bool) -> SavedVersion:
        """The saved version, each component loaded only once its files match the version file's
        sizes and checksums (and were not replaced meanwhile by a save in progress)."""
        try:
            manifest = Manifest.read(self.path)
        except ValueError as error:
            return SavedVersion(None, problems=[f"{VERSION_FILE}: {error}"])
        found = SavedVersion(manifest)
        if manifest is None:
            return found
        for component in COMPONENTS:
            if component not in manifest.components:
                found.problems.append(f"{component}: not in version {manifest.version}, which older code saved (served from the store "
                                      "until the next save: `manage.py check --repair` makes one)")
                continue
            files = manifest.files_of(component)
            before = checksums.file_states(self.path, files)
            problems = checksums.problems(self.path, files)
            if not problems:
                try:
                    found.components[component] = self._load(component, manifest, mmap)
                except (OSError, ValueError) as error:
                    problems = [f"{component}: {error}"]
                else:
                    if checksums.file_states(self.path, files) != before:  # replaced between the hash and the load
                        del found.components[component]
                        problems = [f"{component}: replaced while being loaded (a save in progress)"]
            found.problems += problems
        return found

    def _load(self, component: str, manifest: Manifest, mmap: bool) -> VectorIndex | LexicalIndex:
        if component != "vectors":
            folder = self.path / manifest.lexical
            return LexicalIndex.load(folder / DOCUMENTS_FOLDER if component == "document_lexical" else folder, mmap=mmap)
        vectors = VectorIndex.load(self.path / VECTORS_FILE, mmap=mmap)
        vectors.model = Path(manifest.model) if manifest.model else None
        if vectors.dim != self.dim or len(vectors) != manifest.vectors:
            raise ValueError(f"{VECTORS_FILE} holds {len(vectors)} vectors of dim {vectors.dim}; "
                             f"the version file says {manifest.vectors}, the store dim {self.dim}")
        return vectors

    def note_mapped(self, component: str, manifest: Manifest) -> None:
        """`component` is now served from a mapping of this version's files: watch them."""
        self._mapped[component] = checksums.file_states(self.path, manifest.files_of(component))

    def forget_mapped(self, component: str) -> None:
        self._mapped.pop(component, None)

    def rewritten(self) -> list[str]:
        """The mapped components whose files were written in place (same inode, new size or time),
        now forgotten: their pages show the new bytes, and a truncated file would crash the process.
        A file replaced by a rename leaves the mapping on the old, intact inode."""
        found = []
        for component, states in list(self._mapped.items()):
            now = {state[0]: state for state in checksums.file_states(self.path, [s[0] for s in states])}
            if any(now[s[0]][1] == s[1] and now[s[0]] != s for s in states):
                found.append(component)
                del self._mapped[component]
        return found

    def write(self, version: int, vectors: VectorIndex, lexical: LexicalIndex, document_lexical: LexicalIndex, model: Path) -> Manifest:
        """Save `version`: the BM25 indexes in a folder of its own (the passage one, with the document one
        in a subfolder), the vector index (atomically), then
        the version file with every file's size and checksum, and the `model` that made the vectors.
        The BM25 index goes first, so that the
        vector file is replaced only moments before the version file that records it. The previous
        BM25 folder is kept, for readers still loading it; older ones are removed."""
        lexical_name = f"{LEXICAL_PREFIX}{version}"
        shutil.rmtree(self.path / lexical_name, ignore_errors=True)  # left by a crashed save
        files = {f"{lexical_name}/{name}": record for name, record in lexical.save(self.path / lexical_name, {DOCUMENTS_FOLDER: document_lexical}).items()}
        files |= vectors.save(self.path / VECTORS_FILE)
        manifest = Manifest(version, vectors.index_type, len(vectors), lexical_name, files, str(model))
        manifest.write(self.path)
        self._mapped = {}
        self.seen = self.state()  # what is in memory is what was just saved: no need to load it back
        for old in self.path.glob(f"{LEXICAL_PREFIX}*"):
            if old.name not in (lexical_name, f"{LEXICAL_PREFIX}{version - 1}"):
                shutil.rmtree(old, ignore_errors=True)
        return manifest

    def index_bytes(self) -> int:
        """The size of the vector index's files."""
        return sum(p.stat().st_size for p in self.path.glob("vectors.*") if p.is_file())

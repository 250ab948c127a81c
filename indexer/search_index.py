"""`SearchIndex`: the store, the vector index and the lexical index of one instance folder, kept in agreement.

The store is the truth; the FAISS index and the BM25 index are derived from it and saved atomically,
with a version that is written beside them and recorded in the store. Readers (the app's processes)
open them memory-mapped and `refresh` when the version file changes; writers (the command line, the
API's upserts) go through `open_for_writing`, so one instance has one writer at a time. After a crash
the store and the vector index can disagree only in one way (chunks committed whose vectors the
saved index lacks, or vectors of chunks deleted since), and `sync` repairs exactly that from the
vectors the store keeps; `check` only reports it.

Every file of a saved version is recorded with its size and checksum in the version file (see
`manifest`), and verified before it is loaded: a damaged file is never served and never written on.
A process that loaded a good version keeps it when a newer one turns out damaged; `problems` says
what is wrong, `serve_from_store` is the readers' fallback when nothing good is in memory, and the
writers' `sync` rebuilds the damaged files from the store before any change.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select

from encoder import Encoder

from . import checksums
from .chunking import passage_text
from .lexical import LexicalIndex
from .manifest import COMPONENTS, LEXICAL_PREFIX, VECTORS_FILE, VERSION_FILE, Manifest, component_files
from .store import Chunk, Collection, Document, Store, StoreError, open_store
from .vector_index import VectorIndex, choose_index_type

DATABASE_FILE = "search.sqlite3"
LOCK_FILE = "write.lock"
READ_BATCH = 50_000
REFRESH_TRIES = 3  # reads of a version file that a writer replaced meanwhile, before giving up until the next refresh

log = logging.getLogger(__name__)


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


@contextmanager
def open_for_writing(folder: str | Path, database_url: str | None = None, model: str | Path | None = None,
                     default_model: str | Path | None = None, precision: str = "auto", sync: bool = True) -> Iterator["SearchIndex"]:
    """The instance opened inside its writer lock (see `SearchIndex.open` for the arguments), synced
    with the store (unless the caller rebuilds everything from it anyway), and closed before the
    lock is released."""
    with write_lock(folder):
        index = SearchIndex.open(folder, database_url, model, default_model, precision=precision)
        try:
            if sync:
                index.sync()  # repair what a crashed writer or a damaged file left, so no change starts from it
            yield index
        finally:
            index.close()


def store_url(folder: str | Path, database_url: str | None = None) -> str:
    """The instance's database: `database_url`, else SQLite inside the folder."""
    return database_url or f"sqlite:///{Path(folder) / DATABASE_FILE}"


def vector_bytes(vectors: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in np.ascontiguousarray(vectors, dtype="<f4")]


@dataclass
class CheckReport:
    """What `check` found; `ok` is what `manage.py check`'s exit status says."""

    documents: int
    chunks: int
    vectors: int
    missing: int  # chunks without a vector
    orphans: int  # vectors without a chunk
    empty_documents: int  # documents without any chunk
    version_matches: bool
    lexical_matches: bool  # the BM25 index holds exactly the store's chunks
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class SearchIndex:
    """One instance folder: its store, its vector index and the encoder that made the vectors."""

    def __init__(self, folder: Path, store: Store, dim: int, model: Path, mmap: bool = False, precision: str = "auto") -> None:
        self.folder = folder
        self.precision = precision
        self.store = store
        self.model = model
        self.dim = dim
        self.vectors = VectorIndex(dim, "flat")
        self.lexical = LexicalIndex.empty()
        self.loaded_version = 0  # the last saved version loaded whole
        self.problems: list[str] = []  # what is wrong with the current saved version, one line each
        self.damaged: set[str] = set()  # its components that could not be loaded
        self.origins = dict.fromkeys(COMPONENTS, "")  # where each in-memory index came from: "version N", "store" or ""
        self.saved_type: str | None = None  # the index type the version file records
        self._mapped: dict[str, tuple] = {}  # file states of each memory-mapped component, as loaded
        self._seen: tuple | None = None  # the folder's state at the last refresh
        self._listed: tuple[bytes | None, list[str]] = (None, [])  # a version file's bytes and the files it lists
        self._mmap = mmap
        self._encoder: Encoder | None = None
        self.refresh()

    @classmethod
    def open(cls, folder: str | Path, database_url: str | None = None, model: str | Path | None = None,
             default_model: str | Path | None = None, mmap: bool = False, precision: str = "auto") -> "SearchIndex":
        """Open (or create) an instance with `model`, else the model it was built with, else
        `default_model`. The store remembers the model; one of another dimension is refused, since
        its vectors could not be compared with those already stored. `mmap` maps the saved indexes
        read-only, for processes that only search; `precision` is the encoder's (see `Encoder.load`)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        store = open_store(store_url(folder, database_url))
        known = store.get("model")
        chosen = next((Path(m) for m in (model, known, default_model) if m), None)
        if chosen is None:
            raise StoreError(f"{folder}: no model recorded for this instance; pass one")
        dim = store.get("dim")
        if dim is None or (known and Path(known) != chosen):
            encoder_dim = Encoder.load(chosen).dim
            if dim is not None and int(dim) != encoder_dim:
                raise StoreError(f"{folder}: built with {known} (dim {dim}); {chosen} has dim {encoder_dim}: use another instance")
            store.put({"model": str(chosen), "dim": str(encoder_dim)})
            dim = encoder_dim
        return cls(folder, store, int(dim), chosen, mmap=mmap, precision=precision)

    def close(self) -> None:
        """Release the database connections (the indexes need no closing)."""
        self.store.engine.dispose()

    def refresh(self) -> bool:
        """Load the saved version if anything in the folder changed since the last look (a newer
        version, by this process or another, or a file replaced or written on); returns whether a
        component was loaded.

        Each component is loaded only once its files match the version file's sizes and checksums
        (hashed once per version and process; later calls only compare `stat`s). A damaged component
        leaves the one in memory in place, or nothing where there is none (see `serve_from_store`),
        and is listed in `problems`. A memory-mapped component whose file was written in place is
        dropped, since its pages now show the new bytes (and a truncated one would crash the process).
        """
        loaded = False
        for _ in range(REFRESH_TRIES):
            state = self._folder_state()
            if state == self._seen:
                break
            self._drop_rewritten()
            manifest, components, problems = self._read_saved(self._mmap)
            loaded = self._install(manifest, components, problems) or loaded
            self._seen = state
        return loaded

    def _folder_state(self) -> tuple:
        """The version file's bytes and the `stat` of each file it lists or that is mapped: what
        `refresh` compares."""
        mapped = [state[0] for states in self._mapped.values() for state in states]
        try:
            text = (self.folder / VERSION_FILE).read_bytes()
        except OSError:
            return (None, checksums.file_states(self.folder, mapped))
        if self._listed[0] != text:  # parsed once per version file, not on every request
            try:
                self._listed = (text, [name for names in component_files(Manifest.parse(text).lexical).values() for name in names])
            except ValueError:
                self._listed = (text, [])
        return (text, checksums.file_states(self.folder, dict.fromkeys(self._listed[1] + mapped)))

    def _read_saved(self, mmap: bool) -> tuple[Manifest | None, dict[str, object], list[str]]:
        """The saved version's manifest, each component that verified and loaded, and the problems found."""
        try:
            manifest = Manifest.read(self.folder)
        except ValueError as error:
            return None, {}, [f"{VERSION_FILE}: {error}"]
        if manifest is None:
            version = self.version
            return None, {}, [f"{VERSION_FILE}: missing, though the store records index version {version}"] if version else []
        components, problems = {}, []
        for component in COMPONENTS:
            files = manifest.files_of(component)
            before = checksums.file_states(self.folder, files)
            found = checksums.problems(self.folder, files)
            if not found:
                try:
                    components[component] = self._load(component, manifest, mmap)
                except (OSError, ValueError) as error:
                    found = [f"{component}: {error}"]
                else:
                    if checksums.file_states(self.folder, files) != before:  # replaced between the hash and the load
                        del components[component]
                        found = [f"{component}: replaced while being loaded (a save in progress)"]
            problems += found
        return manifest, components, problems

    def _load(self, component: str, manifest: Manifest, mmap: bool) -> VectorIndex | LexicalIndex:
        if component == "lexical":
            return LexicalIndex.load(self.folder / manifest.lexical, mmap=mmap)
        vectors = VectorIndex.load(self.folder / VECTORS_FILE, mmap=mmap)
        if vectors.dim != self.dim or len(vectors) != manifest.vectors:
            raise ValueError(f"{VECTORS_FILE} holds {len(vectors)} vectors of dim {vectors.dim}; "
                             f"the version file says {manifest.vectors}, the store dim {self.dim}")
        return vectors

    def _install(self, manifest: Manifest | None, components: dict[str, object], problems: list[str]) -> bool:
        origin = f"version {manifest.version}" if manifest else ""
        for component, loaded in components.items():
            setattr(self, component, loaded)
            self.origins[component] = origin
            if self._mmap:
                self._mapped[component] = checksums.file_states(self.folder, manifest.files_of(component))
        self.saved_type = manifest.index_type if manifest else None
        self.problems = problems
        self.damaged = set(COMPONENTS) - set(components) if problems else set()
        if not problems:
            self.loaded_version = manifest.version if manifest else 0
        else:
            log.warning("%s: the saved index is damaged; %s: %s", self.folder,
                        ", ".join(f"{c} from {self.origins[c] or 'nowhere'}" for c in COMPONENTS), "; ".join(problems))
        return bool(components)

    def _drop_rewritten(self) -> None:
        """Forget mapped components whose files were written in place (same inode, new size or time);
        a file replaced by a rename leaves the mapping on the old, intact inode."""
        for component, states in list(self._mapped.items()):
            now = {state[0]: state for state in checksums.file_states(self.folder, [s[0] for s in states])}
            if any(now[s[0]][1] == s[1] and now[s[0]] != s for s in states):
                log.warning("%s: a file of the loaded %s index was written in place; dropping it", self.folder, component)
                setattr(self, component, VectorIndex(self.dim, "flat") if component == "vectors" else LexicalIndex.empty())
                self.origins[component] = ""
                del self._mapped[component]

    def serve_from_store(self) -> list[str]:
        """Build in memory, from the store, each damaged component of which nothing good is in memory;
        returns those built. For processes that only search (a writer's `sync` saves a repair instead):
        the vectors become an exact (flat) index, which needs no training or graph building, so the
        fallback is ready after one read of the stored vectors."""
        built = [c for c in COMPONENTS if c in self.damaged and not self.origins[c]]
        for component in built:
            log.warning("%s: serving the %s index rebuilt in memory from the store until a good version is saved",
                        self.folder, component)
            setattr(self, component, self._vectors_from_store("flat") if component == "vectors" else self._build_lexical())
            self.origins[component] = "store"
            self._mapped.pop(component, None)
        return built

    def serving_problems(self) -> list[str]:
        """`problems`, and an index empty over a store that holds chunks: what makes a process unhealthy."""
        if self.problems or len(self.vectors) or not self._store_has_chunks():
            return list(self.problems)
        return ["the store holds chunks but the index none (run `manage.py check --repair`)"]

    def _store_has_chunks(self) -> bool:
        with self.store.session() as session:
            return session.scalar(select(Chunk.id).limit(1)) is not None

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = Encoder.load(self.model, precision=self.precision)
        return self._encoder

    @property
    def version(self) -> int:
        return int(self.store.get("index_version") or 0)

    def collection_id(self, name: str, create: bool = True) -> int | None:
        with self.store.session.begin() as session:
            found = session.scalar(select(Collection.id).where(Collection.name == name))
            if found is None and create:
                collection = Collection(name=name)
                session.add(collection)
                session.flush()
                found = collection.id
            return found

    def save(self) -> int:
        """Write a BM25 index of the store's chunks (in a folder of this version's own) and the vector
        index (atomically), then the version file with every file's size and checksum, then record
        the version in the store; returns the new version. A crash before the last step leaves
        indexes that `sync` and the next save put right. The previous BM25 folder is kept, for readers
        still loading it. The BM25 index is built first, so that the vector file is replaced only
        moments before the version file that records it."""
        version = max(self.version, self.loaded_version) + 1
        lexical_name = f"{LEXICAL_PREFIX}{version}"
        shutil.rmtree(self.folder / lexical_name, ignore_errors=True)  # left by a crashed save
        self.lexical = self._build_lexical()
        files = {f"{lexical_name}/{name}": record for name, record in self.lexical.save(self.folder / lexical_name).items()}
        files |= self.vectors.save(self.folder / VECTORS_FILE)
        Manifest(version, self.vectors.index_type, len(self.vectors), lexical_name, files).write(self.folder)
        self.store.put({"index_version": str(version)})
        self.loaded_version = version
        self.problems, self.damaged, self.saved_type, self._mapped = [], set(), self.vectors.index_type, {}
        self.origins = dict.fromkeys(COMPONENTS, f"version {version}")
        self._seen = self._folder_state()  # what is in memory is what was just saved: no need to load it back
        for old in self.folder.glob(f"{LEXICAL_PREFIX}*"):
            if old.name not in (lexical_name, f"{LEXICAL_PREFIX}{version - 1}"):
                shutil.rmtree(old, ignore_errors=True)
        return version

    def _build_lexical(self) -> LexicalIndex:
        with self.store.session() as session:
            rows = session.execute(select(Chunk.id, Document.title, Chunk.text).join(Document, Chunk.document_id == Document.id)
                                   .order_by(Chunk.id).execution_options(yield_per=READ_BATCH))
            return LexicalIndex.build((chunk_id, passage_text(title, text)) for chunk_id, title, text in rows)

    def chunk_ids(self) -> np.ndarray:
        with self.store.session() as session:
            return np.fromiter(session.scalars(select(Chunk.id).execution_options(yield_per=READ_BATCH)), dtype=np.int64)

    def stored_vectors(self, ids: Sequence[int]) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of the given chunks, in batches, read from the store."""
        for start in range(0, len(ids), READ_BATCH):
            wanted = [int(i) for i in ids[start:start + READ_BATCH]]
            with self.store.session() as session:
                rows = session.execute(select(Chunk.id, Chunk.vector).where(Chunk.id.in_(wanted))).all()
            if rows:
                yield (np.array([r[0] for r in rows], dtype=np.int64),
                       np.vstack([np.frombuffer(r[1], dtype="<f4") for r in rows]))

    def sync(self) -> tuple[int, int]:
        """Make the vector index hold exactly the store's chunks, and the BM25 index too, and the
        saved files sound (a damaged vector file is rebuilt from the store, whatever was loaded);
        returns (vectors added, vectors removed) to the index in memory."""
        in_store = self.chunk_ids()
        in_index = self.vectors.ids()
        missing = np.setdiff1d(in_store, in_index)
        orphans = np.setdiff1d(in_index, in_store)
        if "vectors" in self.damaged:  # the loaded vectors, if any, are of an older version: start from the store
            log.warning("%s: rebuilding the saved index from the store: %s", self.folder, "; ".join(self.problems))
            self.repair()
            return len(missing), len(orphans)
        if len(orphans):
            self.vectors.remove(orphans)
        for ids, vectors in self.stored_vectors(missing):
            self.vectors.add(ids, vectors)
        lexical_stale = len(self.lexical) != len(in_store)
        if len(missing) or len(orphans) or lexical_stale or self.damaged or not (self.folder / VECTORS_FILE).exists():
            self.save()
        return len(missing), len(orphans)

    def reindex(self, index_type: str | None = None) -> VectorIndex:
        """Rebuild the vector index from the store's vectors, as `index_type` or the type its size calls
        for, and save it: whatever state the saved files are in, this replaces them all."""
        self.vectors = self._vectors_from_store(index_type)
        self.save()
        return self.vectors

    def repair(self) -> VectorIndex:
        """`reindex`, keeping the type the version file records where it can be read (an IVF index
        only while the store holds vectors to train it on)."""
        keep = self.saved_type != "ivf" or self._store_has_chunks()
        return self.reindex(self.saved_type if keep else None)

    def _vectors_from_store(self, index_type: str | None) -> VectorIndex:
        ids = self.chunk_ids()
        parts = list(self.stored_vectors(ids))
        all_ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        all_vectors = np.vstack([p[1] for p in parts]) if parts else np.empty((0, self.vectors.dim), np.float32)
        chosen = index_type or choose_index_type(len(all_ids))
        if chosen == "ivf" and not len(all_ids):
            raise ValueError("an IVF index is trained on the stored vectors, and the store holds none yet")
        return VectorIndex.build(all_ids, all_vectors, chosen)

    def delete(self, external_ids: Sequence[str], collection: str) -> int:
        """Delete documents (and their chunks and vectors); returns how many existed."""
        collection_id = self.collection_id(collection, create=False)
        if collection_id is None or not external_ids:
            return 0
        removed_docs, removed_chunks = 0, []
        for start in range(0, len(external_ids), 1000):
            batch = list(external_ids[start:start + 1000])
            with self.store.session.begin() as session:
                doc_ids = list(session.scalars(select(Document.id).where(Document.collection_id == collection_id, Document.external_id.in_(batch))))
                if doc_ids:
                    removed_chunks += list(session.scalars(select(Chunk.id).where(Chunk.document_id.in_(doc_ids))))
                    session.execute(delete(Chunk).where(Chunk.document_id.in_(doc_ids)))
                    session.execute(delete(Document).where(Document.id.in_(doc_ids)))
                removed_docs += len(doc_ids)
        if removed_chunks:
            self.vectors.remove(np.array(removed_chunks, dtype=np.int64))
        self.save()
        return removed_docs

    def check(self) -> CheckReport:
        """Compare the store with the saved files (verified again, whatever is in memory)."""
        in_store = self.chunk_ids()
        manifest, saved, damage = self._read_saved(mmap=True)
        in_index = saved["vectors"].ids() if "vectors" in saved else np.empty(0, np.int64)
        with self.store.session() as session:
            documents = session.scalar(select(func.count(Document.id))) or 0
            empty = session.scalar(select(func.count(Document.id)).where(~select(Chunk.id).where(Chunk.document_id == Document.id).exists())) or 0
        lexical_ids = saved["lexical"].ids if "lexical" in saved else np.empty(0, np.int64)
        file_version = manifest.version if manifest else 0
        report = CheckReport(
            documents=documents, chunks=len(in_store), vectors=len(in_index),
            missing=len(np.setdiff1d(in_store, in_index)), orphans=len(np.setdiff1d(in_index, in_store)),
            empty_documents=empty, version_matches=file_version == self.version,
            lexical_matches=np.array_equal(np.sort(lexical_ids), np.sort(in_store)), problems=list(damage),
        )
        vectors_readable, lexical_readable = (not damage or component in saved for component in COMPONENTS)
        if report.missing and vectors_readable:
            report.problems.append(f"{report.missing} chunks have no vector in the saved index")
        if report.orphans:
            report.problems.append(f"{report.orphans} vectors in the saved index have no chunk")
        if empty:
            report.problems.append(f"{empty} documents have no chunk")
        if not report.lexical_matches and lexical_readable:
            report.problems.append(f"the BM25 index holds {len(lexical_ids)} chunks, the store {len(in_store)}")
        if not report.version_matches and manifest:
            report.problems.append(f"index file version {file_version} differs from the store's {self.version}")
        return report

    def stats(self) -> dict[str, object]:
        with self.store.session() as session:
            per_collection = dict(session.execute(
                select(Collection.name, func.count(Document.id)).join(Document, Document.collection_id == Collection.id, isouter=True).group_by(Collection.name)
            ).all())
            chunks = session.scalar(select(func.count(Chunk.id))) or 0
        size = sum(p.stat().st_size for p in self.folder.glob("vectors.*") if p.is_file())
        return {"database": self.store.url, "model": str(self.model), "dim": self.vectors.dim, "collections": per_collection,
                "documents": sum(per_collection.values()), "chunks": chunks, "vectors": len(self.vectors),
                "index_type": self.vectors.index_type, "index_version": self.version, "index_bytes": size}

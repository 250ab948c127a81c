"""`SearchIndex`: the store, the vector index and the lexical index of one instance folder, kept in agreement.

The store is the truth; the FAISS index and the BM25 index are derived from it and saved atomically,
with a version that is written beside them and recorded in the store. Readers (the app's processes)
open them memory-mapped and `refresh` when the version file changes; writers (the command line, the
API's upserts) go through `open_for_writing`, so one instance has one writer at a time. After a crash
the store and the vector index can disagree only in one way (chunks committed whose vectors the
saved index lacks, or vectors of chunks deleted since), and `sync` repairs exactly that from the
vectors the store keeps; `check` only reports it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select

from encoder import Encoder, atomic_write

from .chunking import passage_text
from .lexical import LexicalIndex
from .store import Chunk, Collection, Document, Store, StoreError, open_store
from .vector_index import VectorIndex, choose_index_type

DATABASE_FILE = "search.sqlite3"
VECTORS_FILE = "vectors.faiss"
VERSION_FILE = "vectors.json"
LOCK_FILE = "write.lock"
LEXICAL_PREFIX = "lexical-"
READ_BATCH = 50_000

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
                     default_model: str | Path | None = None, precision: str = "auto") -> Iterator["SearchIndex"]:
    """The instance opened inside its writer lock (see `SearchIndex.open` for the arguments), synced
    with the store, and closed before the lock is released."""
    with write_lock(folder):
        index = SearchIndex.open(folder, database_url, model, default_model, precision=precision)
        try:
            index.sync()  # repair what a crashed writer left, so no change starts from a partial index
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
        self.vectors = VectorIndex(dim, "flat")
        self.lexical = LexicalIndex.empty()
        self.loaded_version = 0
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
        """Load the saved indexes if a newer version was saved since they were loaded (by this
        process or another); returns whether it did.

        The vector index is what the version names. A BM25 folder that cannot be read (absent,
        from an older format, or already replaced by two later saves) leaves lexical search empty
        until the next version, with a warning; it never holds back the vectors. `sync`, which
        every writer runs first, rebuilds it."""
        saved = _read_json(self.folder / VERSION_FILE)
        version = saved.get("version", 0)
        if version == self.loaded_version or not (self.folder / VECTORS_FILE).exists():
            return False
        try:
            vectors = VectorIndex.load(self.folder / VECTORS_FILE, mmap=self._mmap)
        except OSError as error:
            log.warning("%s: cannot load the vector index (%s); keeping version %d", self.folder, error, self.loaded_version)
            return False
        try:
            lexical = LexicalIndex.load(self.folder / saved["lexical"], mmap=self._mmap)
        except (OSError, KeyError, ValueError) as error:
            log.warning("%s: no readable BM25 index for version %d (%s): lexical search finds nothing until it is rebuilt",
                        self.folder, version, error)
            lexical = LexicalIndex.empty()
        self.vectors, self.lexical, self.loaded_version = vectors, lexical, version
        return True

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
        """Write the vector index (atomically) and a BM25 index of the store's chunks (in a folder of
        this version's own), then the version file, then record the version in the store; returns
        the new version. A crash before the last step leaves indexes that `sync` and the next save
        put right. The previous BM25 folder is kept, for readers still loading it."""
        version = max(self.version, self.loaded_version) + 1
        self.vectors.save(self.folder / VECTORS_FILE)
        lexical_name = f"{LEXICAL_PREFIX}{version}"
        shutil.rmtree(self.folder / lexical_name, ignore_errors=True)  # left by a crashed save
        self.lexical = self._build_lexical()
        self.lexical.save(self.folder / lexical_name)
        atomic_write(self.folder / VERSION_FILE, lambda tmp: tmp.write_text(json.dumps(
            {"version": version, "type": self.vectors.index_type, "vectors": len(self.vectors), "lexical": lexical_name})))
        self.store.put({"index_version": str(version)})
        self.loaded_version = version
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
        """Make the vector index hold exactly the store's chunks, and the BM25 index too; returns
        (vectors added, vectors removed)."""
        in_store = self.chunk_ids()
        in_index = self.vectors.ids()
        missing = np.setdiff1d(in_store, in_index)
        orphans = np.setdiff1d(in_index, in_store)
        if len(orphans):
            self.vectors.remove(orphans)
        for ids, vectors in self.stored_vectors(missing):
            self.vectors.add(ids, vectors)
        lexical_stale = len(self.lexical) != len(in_store)
        if len(missing) or len(orphans) or lexical_stale or not (self.folder / VECTORS_FILE).exists():
            self.save()
        return len(missing), len(orphans)

    def reindex(self, index_type: str | None = None) -> VectorIndex:
        """Rebuild the vector index from the store's vectors, as `index_type` or the type its size calls for."""
        ids = self.chunk_ids()
        parts = list(self.stored_vectors(ids))
        all_ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        all_vectors = np.vstack([p[1] for p in parts]) if parts else np.empty((0, self.vectors.dim), np.float32)
        chosen = index_type or choose_index_type(len(all_ids))
        if chosen == "ivf" and not len(all_ids):
            raise ValueError("an IVF index is trained on the stored vectors, and the store holds none yet")
        self.vectors = VectorIndex.build(all_ids, all_vectors, chosen)
        self.save()
        return self.vectors

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
        in_store = self.chunk_ids()
        saved = VectorIndex.load(self.folder / VECTORS_FILE, mmap=True) if (self.folder / VECTORS_FILE).exists() else None
        in_index = saved.ids() if saved is not None else np.empty(0, np.int64)
        with self.store.session() as session:
            documents = session.scalar(select(func.count(Document.id))) or 0
            empty = session.scalar(select(func.count(Document.id)).where(~select(Chunk.id).where(Chunk.document_id == Document.id).exists())) or 0
        file_version = _read_json(self.folder / VERSION_FILE).get("version", 0)
        report = CheckReport(
            documents=documents, chunks=len(in_store), vectors=len(in_index),
            missing=len(np.setdiff1d(in_store, in_index)), orphans=len(np.setdiff1d(in_index, in_store)),
            empty_documents=empty, version_matches=file_version == self.version,
            lexical_matches=np.array_equal(np.sort(self.lexical.ids), np.sort(in_store)),
        )
        if report.missing:
            report.problems.append(f"{report.missing} chunks have no vector in the saved index")
        if report.orphans:
            report.problems.append(f"{report.orphans} vectors in the saved index have no chunk")
        if empty:
            report.problems.append(f"{empty} documents have no chunk")
        if not report.lexical_matches:
            report.problems.append(f"the BM25 index holds {len(self.lexical)} chunks, the store {len(in_store)}")
        if not report.version_matches:
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


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}

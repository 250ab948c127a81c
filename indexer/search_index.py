"""`SearchIndex`: the store, the vector index and the lexical indexes of one instance folder, kept in agreement.

The store is the truth; the FAISS and BM25 indexes are derived from it and saved atomically as a
version that the store records (see `instance`). Readers (the app's processes) open them
memory-mapped and `refresh` when the version file changes. Writers (the command line, the API's
writer) go through `open_for_writing`, one at a time, and change documents with `upsert` and
`delete`: the store in one transaction, then the vector index in memory, then a save. After a crash
the store and the vector index can disagree only in one way (chunks committed whose vectors the
saved index lacks, or vectors of chunks deleted since), and `sync` repairs exactly that from the
vectors the store keeps; `check` only reports it.

A damaged file is never served and never written on. A process that loaded a good version keeps it
when a newer one turns out damaged; `problems` says what is wrong, `serve_from_store` is the
readers' fallback when nothing good is in memory, and the writers' `sync` rebuilds the damaged
files from the store before any change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from encoder import Encoder, passage_text

from . import inspection
from .instance import InstanceFolder, ModelEncoders, SavedVersion, pin_model, same_weights, store_url, write_lock
from .lexical import LexicalIndex
from .manifest import COMPONENTS, VECTORS_FILE, VERSION_FILE
from .passages import Upserted, changed, document_versions
from .readers import Record
from .store import Store, open_store
from .vector_index import VectorIndex, choose_index_type

REFRESH_TRIES = 3  # reads of a version file that a writer replaced meanwhile, before giving up until the next refresh

log = logging.getLogger(__name__)


@contextmanager
def open_for_writing(folder: str | Path, database_url: str | None = None, model: str | Path | None = None,
                     default_model: str | Path | None = None, precision: str = "auto", sync: bool = True) -> Iterator[SearchIndex]:
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


class SearchIndex:
    """One instance folder: its store, its vector index and the encoder that made the vectors."""

    def __init__(self, folder: Path, store: Store, dim: int, model: Path, mmap: bool = False, precision: str = "auto") -> None:
        self.folder = folder
        self.store = store
        self.model = model
        self.dim = dim
        self.vectors = VectorIndex(dim, "flat")
        self.lexical = LexicalIndex.empty()  # BM25 over chunks
        self.document_lexical = LexicalIndex.empty()  # BM25 over whole documents
        self.saved = InstanceFolder(folder, dim)
        self.loaded_version = 0  # the last saved version loaded whole
        self.problems: list[str] = []  # what is wrong with the current saved version, one line each
        self.damaged: set[str] = set()  # its components that could not be loaded
        self.origins = dict.fromkeys(COMPONENTS, "")  # where each in-memory index came from: "version N", "store" or ""
        self.saved_type: str | None = None  # the index type the version file records
        self._mmap = mmap
        self.encoders = ModelEncoders(precision)
        self.refresh()

    @classmethod
    def open(cls, folder: str | Path, database_url: str | None = None, model: str | Path | None = None,
             default_model: str | Path | None = None, mmap: bool = False, precision: str = "auto") -> SearchIndex:
        """Open (or create) an instance with `model`, else the model it was built with, else
        `default_model` (one of another dimension is refused: see `instance.pin_model`). `mmap` maps
        the saved indexes read-only, for processes that only search; `precision` is the encoder's
        (see `Encoder.load`)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        store = open_store(store_url(folder, database_url))
        chosen, dim = pin_model(folder, store, model, default_model)
        return cls(folder, store, dim, chosen, mmap=mmap, precision=precision)

    def close(self) -> None:
        """Release the database connections (the indexes need no closing)."""
        self.store.engine.dispose()

    @property
    def encoder(self) -> Encoder:
        """The instance's model, which writers encode passages with."""
        return self.encoders.get(self.model)

    def query_encoder(self, vectors: VectorIndex) -> Encoder:
        """What a query searched in `vectors` is encoded with: their own model's encoder (see `ModelEncoders`)."""
        return self.encoders.of_vectors(vectors, self.model)

    @property
    def version(self) -> int:
        """The saved version the store records: the one that holds every committed change."""
        return int(self.store.get("index_version") or 0)

    def refresh(self) -> bool:
        """Load the saved version if anything in the folder changed since the last look (a newer
        version, by this process or another, or a file replaced or written on); returns whether a
        component was loaded.

        Each component's files are hashed once per version and process; later calls only compare
        `stat`s. A damaged component leaves the one in memory in place, or nothing where there is
        none (see `serve_from_store`), and is listed in `problems`. A memory-mapped component whose
        file was written in place is dropped, since its pages now show the new bytes.
        """
        loaded = False
        for _ in range(REFRESH_TRIES):
            state = self.saved.state()
            if state == self.saved.seen:
                break
            for component in self.saved.rewritten():
                log.warning("%s: a file of the loaded %s index was written in place; dropping it", self.folder, component)
                setattr(self, component, VectorIndex(self.dim, "flat") if component == "vectors" else LexicalIndex.empty())
                self.origins[component] = ""
            loaded = self._install(self.read_saved(self._mmap)) or loaded
            self.saved.seen = state
        return loaded

    def read_saved(self, mmap: bool) -> SavedVersion:
        """The saved version as the folder holds it, verified; no version file is a problem once the
        store records that one was saved."""
        found = self.saved.read(mmap)
        if found.manifest is None and not found.problems and (version := self.version):
            found.problems.append(f"{VERSION_FILE}: missing, though the store records index version {version}")
        return found

    def _install(self, found: SavedVersion) -> bool:
        manifest = found.manifest  # None only where no component loaded
        for component, loaded in found.components.items():
            setattr(self, component, loaded)
            self.origins[component] = f"version {manifest.version}"
            if self._mmap:
                self.saved.note_mapped(component, manifest)
        self.saved_type = manifest.index_type if manifest else None
        self.problems = found.problems
        self.damaged = set(COMPONENTS) - set(found.components) if found.problems else set()
        if not found.problems:
            self.loaded_version = manifest.version if manifest else 0
        else:
            log.warning("%s: the saved index is damaged; %s: %s", self.folder,
                        ", ".join(f"{c} from {self.origins[c] or 'nowhere'}" for c in COMPONENTS), "; ".join(found.problems))
        return bool(found.components)

    def serve_from_store(self) -> list[str]:
        """Build in memory, from the store, each damaged component of which nothing good is in memory;
        returns those built. For processes that only search (a writer's `sync` saves a repair instead):
        the vectors become an exact (flat) index, which needs no training or graph building, so the
        fallback is ready after one read of the stored vectors."""
        built = [c for c in COMPONENTS if c in self.damaged and not self.origins[c]]
        for component in built:
            log.warning("%s: serving the %s index rebuilt in memory from the store until a good version is saved",
                        self.folder, component)
            setattr(self, component, self._vectors_from_store("flat") if component == "vectors" else self._build_lexical(component))
            self.origins[component] = "store"
            self.saved.forget_mapped(component)
        return built

    def serving_problems(self) -> list[str]:
        """What makes a serving process unhealthy (see `inspection.serving_problems`)."""
        return inspection.serving_problems(self)

    def check(self) -> inspection.CheckReport:
        """Compare the store with the saved files (see `inspection.check`)."""
        return inspection.check(self)

    def stats(self) -> dict[str, object]:
        """Counts, index type and sizes (see `inspection.stats`)."""
        return inspection.stats(self)

    def upsert(self, records: Sequence[Record], collection: str, *, overlap_tokens: int = 32, encode_batch_size: int = 64,
               on_encoded: Callable[[int, int], None] = lambda count, of: None, save: bool = True) -> Upserted:
        """Add or replace documents of `collection` (created if new; of a repeated id, the last record
        wins). A document whose content hash is unchanged is skipped before any encoding, so writing
        the same documents again changes nothing. The store is written in one transaction, then the
        vector index; saved unless `save` is false (a bulk run saves once at its end). `on_encoded`
        follows the encoding (see `passages.document_versions`)."""
        collection_id = self.store.collection_id(collection)
        latest = {r.external_id: r for r in records}
        stored = self.store.content_hashes(collection_id, list(latest)) if latest else {}
        todo = changed(latest.values(), stored)
        done = Upserted(unchanged=len(latest) - len(todo))
        if todo:  # the model is loaded only now: writing unchanged documents again costs no encoder
            documents, vectors = document_versions(todo, stored, self.encoder, overlap_tokens, encode_batch_size, on_encoded)
            replaced, written = self.store.write_documents(collection_id, documents, vectors)
            if len(replaced):
                self.vectors.remove(replaced)
            self.vectors.add(written, vectors)
            done.updated = sum(1 for document in documents if document.key is not None)
            done.added, done.chunks = len(documents) - done.updated, len(written)
        if save:
            self.save()
        return done

    def delete(self, external_ids: Sequence[str], collection: str, *, save: bool = True) -> int:
        """Delete documents of `collection` with their chunks, from the store then the vector index;
        saved unless `save` is false; returns how many existed (a missing id or collection deletes
        nothing, and then nothing is saved)."""
        collection_id = self.store.collection_id(collection, create=False)
        if collection_id is None or not external_ids:
            return 0
        deleted, chunks = self.store.delete_documents(collection_id, external_ids)
        if len(chunks):
            self.vectors.remove(chunks)
        if save:
            self.save()
        return deleted

    def save(self) -> int:
        """Save the indexes as the store now holds them; returns the new version. A flat index grown
        past exact search's size (`choose_index_type`) is first rebuilt as a graph index."""
        if self.vectors.index_type == "flat" and choose_index_type(len(self.vectors)) != "flat":
            self.vectors = self._vectors_from_store(None)
        return self._write()

    def _write(self) -> int:
        """Write BM25 indexes of the store's chunks and documents and the vector index as the next version (see
        `InstanceFolder.write`), then record the version in the store. A crash before the last step
        leaves indexes that `sync` and the next save put right."""
        version = max(self.version, self.loaded_version) + 1
        self.lexical, self.document_lexical = self._build_lexical("lexical"), self._build_lexical("document_lexical")
        manifest = self.saved.write(version, self.vectors, self.lexical, self.document_lexical, self.model)
        self.vectors.model = self.model
        self.store.put({"index_version": str(version)})
        self.loaded_version = version
        self.problems, self.damaged, self.saved_type = [], set(), manifest.index_type
        self.origins = dict.fromkeys(COMPONENTS, f"version {version}")
        return version

    def _build_lexical(self, component: str) -> LexicalIndex:
        """The BM25 `component` from the store: over its chunks (`lexical`) or its whole documents, titles included alike."""
        texts = self.store.titled_texts(documents=component == "document_lexical")
        return LexicalIndex.build((key, passage_text(title, text)) for key, title, text in texts)

    def sync(self) -> tuple[int, int]:
        """Make the vector index hold exactly the store's chunks, and the BM25 indexes too, and the
        saved files sound (a damaged vector file is rebuilt from the store, whatever was loaded);
        returns (vectors added, vectors removed) to the index in memory."""
        in_store = self.store.chunk_ids()
        in_index = self.vectors.ids()
        missing = np.setdiff1d(in_store, in_index)
        orphans = np.setdiff1d(in_index, in_store)
        other_model = self.vectors.model is not None and not same_weights(self.vectors.model, self.model)
        if "vectors" in self.damaged or other_model:  # older vectors, or another model's (`adapt` cut at its switch): from the store
            log.warning("%s: rebuilding the saved index from the store: %s", self.folder, "; ".join(self.problems))
            self.repair()
            return len(missing), len(orphans)
        if len(orphans):
            self.vectors.remove(orphans)
        for ids, vectors in self.store.stored_vectors(missing):
            self.vectors.add(ids, vectors)
        lexical_stale = len(self.lexical) != len(in_store)
        if len(missing) or len(orphans) or lexical_stale or self.damaged or not (self.folder / VECTORS_FILE).exists():
            self.save()
        return len(missing), len(orphans)

    def reindex(self, index_type: str | None = None) -> VectorIndex:
        """Rebuild the vector index from the store's vectors, as `index_type` or the type its size calls
        for, and save it: whatever state the saved files are in, this replaces them all."""
        self.vectors = self._vectors_from_store(index_type)
        self._write()
        return self.vectors

    def repair(self) -> VectorIndex:
        """`reindex`, keeping the type the version file records where it can be read (an IVF index
        only while the store holds vectors to train it on)."""
        keep = self.saved_type != "ivf" or self.store.has_chunks()
        return self.reindex(self.saved_type if keep else None)

    def _vectors_from_store(self, index_type: str | None) -> VectorIndex:
        parts = list(self.store.stored_vectors(self.store.chunk_ids()))
        all_ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        all_vectors = np.vstack([p[1] for p in parts]) if parts else np.empty((0, self.vectors.dim), np.float32)
        chosen = index_type or choose_index_type(len(all_ids))
        if chosen == "ivf" and not len(all_ids):
            raise ValueError("an IVF index is trained on the stored vectors, and the store holds none yet")
        return VectorIndex.build(all_ids, all_vectors, chosen)

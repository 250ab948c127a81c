"""The vector index: FAISS behind one small interface, keyed by the store's chunk primary keys.

The database is the truth and this index is derived from it, so the interface is what a caller needs to
keep the two in step and to rebuild one from the other: add / remove / search by int64 id, the full list
of ids to compare with the store, and an atomic save that a crash can never leave half-written.

Every type scores by inner product, which on the encoder's L2-normalised vectors is cosine similarity.
Three types, chosen by collection size (see `choose_index_type`):

- `flat`: exact search, wrapped in `IndexIDMap2` so each vector carries its id.
- `hnsw`: an `IndexHNSWFlat` graph in `IndexIDMap2`. FAISS cannot delete from the graph, so `remove`
  marks internal positions as removed (tombstones, saved beside the index) and search skips them with an
  ID selector. Tombstones are positions, not ids, so a removed id can be added again (SQLite reuses the
  largest primary key once its row is deleted): its new vector gets a new position and the old one stays
  hidden. Tombstoned vectors still cost memory and search time; rebuilding the index drops them.
- `ivf`: an `IndexIVFFlat`, which stores ids in its own lists. It is *not* wrapped in `IndexIDMap2`:
  in faiss 1.15 the wrapper compacts its id table on `remove_ids` while IVF keeps the old internal
  numbers, so every id after a removed one would come back shifted. It must be trained (k-means on a
  sample of the vectors) before vectors are added; `build` does that.

Memory-mapping (`load(mmap=True)`) lets several app processes share one copy of the index through the
page cache. A mapped index is read-only: FAISS aborts the whole process, rather than raising, when asked
to grow or shrink a mapped array, so `add`, `remove` and `train` refuse first; `load(path, mmap=False)`
gives a writable copy in memory. Saves replace files by rename, so a process that has mapped the old
file keeps reading the old, consistent version until it loads the new one.

Not safe for concurrent writes: a caller that adds or removes while another thread searches must lock.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import faiss
import numpy as np

from .checksums import FileRecord, write_recorded

INDEX_TYPES = ("flat", "hnsw", "ivf")

# Exact search grows linearly: 7.9 ms per query at 105k 256-d vectors on the one thread a server
# process gives it (bench/query_cost.py), half of a 15 ms budget; past this size HNSW
# answers in well under a millisecond at recall@10 0.98 on real embeddings.
FLAT_MAX_VECTORS = 50_000

# How many ids an error message lists before it stops.
_SHOWN_IDS = 5


def set_search_threads(count: int) -> None:
    """OpenMP threads FAISS uses in this process (see `encoder.set_threads` for why a server wants one)."""
    faiss.omp_set_num_threads(max(1, count))


def choose_index_type(count: int) -> str:
    """Exact search while it is fast enough per query; a graph index beyond."""
    return "flat" if count <= FLAT_MAX_VECTORS else "hnsw"


def default_nlist(count: int) -> int:
    """About 4·√n inverted lists (FAISS's rule of thumb), never more than there are training vectors."""
    return max(1, min(count, round(4 * math.sqrt(count))))


class VectorIndex:
    """Vectors by int64 id in a FAISS index of one of `INDEX_TYPES`; see the module docstring."""

    model: Path | None = None  # the checkpoint that made the vectors, where known: a query is encoded with it

    def __init__(self, dim: int, index_type: str = "flat", *, hnsw_m: int = 32, ef_search: int = 128,
                 ef_construction: int = 200, nlist: int | None = None, nprobe: int = 32) -> None:
        """`hnsw_m`, `ef_search`, `ef_construction` tune HNSW; `nlist` (required) and `nprobe` tune IVF.

        The search-time settings (`ef_search`, `nprobe`) are stored inside the FAISS index, so they
        survive save and load.
        """
        index = _new_faiss_index(dim, index_type, hnsw_m=hnsw_m, nlist=nlist)
        if index_type == "hnsw":
            _hnsw(index).efSearch = ef_search
            _hnsw(index).efConstruction = ef_construction
        if index_type == "ivf":
            index.nprobe = nprobe
        self._attach(index, removed=np.empty(0, dtype=np.int64), writable=True)

    def _attach(self, index: faiss.Index, removed: np.ndarray, writable: bool) -> None:
        self._index = index
        self._index_type = _type_of(index)
        self._removed = removed  # sorted internal positions of tombstoned HNSW vectors
        self._writable = writable

    @property
    def dim(self) -> int:
        return self._index.d

    @property
    def index_type(self) -> str:
        return self._index_type

    def __len__(self) -> int:
        return self._index.ntotal - self._removed.size

    def ids(self) -> np.ndarray:
        """Every live id, sorted, so a caller can diff the index against the store."""
        if self._index_type == "ivf":
            return np.sort(_ivf_ids(self._index))
        return np.sort(np.delete(self._positions_to_ids(), self._removed))

    def train(self, vectors: np.ndarray) -> None:
        """Fit the IVF's coarse quantizer on a sample (a no-op for flat and HNSW).

        Public so that a collection too big to hold in memory can be trained on a sample and then added
        in batches; `build` calls it for collections that fit.
        """
        self._require_writable()
        if self._index.ntotal:
            raise RuntimeError("train() must come before any add: this index already holds vectors (rebuild it to retrain)")
        self._index.train(self._as_matrix(vectors))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under ids that are unique and not already live in the index."""
        self._require_writable()
        if not self._index.is_trained:
            raise RuntimeError("an IVF index must be trained before vectors are added: call train(sample) "
                               "first, or make it with VectorIndex.build(ids, vectors, 'ivf')")
        ids, vectors = _as_ids(ids), self._as_matrix(vectors)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        _check_new_ids(ids, self.ids())
        self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        """Remove the given ids where present; returns how many were."""
        self._require_writable()
        ids = _as_ids(ids)
        if self._index_type != "hnsw":
            return self._index.remove_ids(ids)
        hits = np.flatnonzero(np.isin(self._positions_to_ids(), ids))
        newly_removed = np.setdiff1d(hits, self._removed)
        self._removed = np.union1d(self._removed, newly_removed)
        return newly_removed.size

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product: scores float32 (q, k) best first and ids int64 (q, k); where fewer
        than k vectors are live, the rest of a row is id -1 with score -inf."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        queries = self._as_matrix(queries)
        if len(self) == 0:  # an empty HNSW graph or untrained IVF must not reach FAISS
            return np.full((len(queries), k), -np.inf, dtype=np.float32), np.full((len(queries), k), -1, dtype=np.int64)
        if self._index_type == "hnsw":
            scores, ids = self._search_hnsw(queries, k)
        else:
            scores, ids = self._index.search(queries, k)
        scores[ids < 0] = -np.inf  # FAISS pads with -FLT_MAX; -inf cannot be mistaken for a score
        return scores, ids

    def _search_hnsw(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Search the graph below the id map, so the tombstone selector sees positions, not ids."""
        graph = faiss.downcast_index(self._index.index)
        params = None
        if self._removed.size:
            removed = faiss.IDSelectorBatch(self._removed)
            params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorNot(removed), efSearch=graph.hnsw.efSearch)
        scores, positions = graph.search(queries, k, params=params)
        return scores, np.where(positions >= 0, self._positions_to_ids()[positions], -1)

    def save(self, path: Path) -> dict[str, FileRecord]:
        """Write the index and its sidecar (`<name>.meta.json`), each atomically; returns the size and
        checksum of each file written, by file name, for the version file to record.

        The index goes first: a crash between the two renames leaves a sidecar whose vector count no
        longer matches, which `load` reports instead of applying stale tombstones.
        """
        path = Path(path)
        records = {path.name: write_recorded(path, lambda target: faiss.write_index(self._index, str(target)))}
        meta = {"ntotal": self._index.ntotal, "removed_positions": self._removed.tolist()}
        records[sidecar(path).name] = write_recorded(sidecar(path), lambda target: target.write_text(json.dumps(meta), encoding="utf-8"))
        return records

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> VectorIndex:
        """Open a saved index; memory-mapped and read-only by default, a writable copy with mmap=False.

        `IO_FLAG_MMAP_IFC` maps the vectors of all three types in place in faiss 1.15 (IVF included:
        its lists become views into the file), so one flag serves every type. Ids and the HNSW graph
        links are read into memory.
        """
        path = Path(path)
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
        except RuntimeError as error:  # FAISS's one exception type, for a damaged file as for any other
            raise ValueError(f"{path}: not a readable FAISS index ({str(error).splitlines()[-1][:200]})") from None
        try:
            meta = json.loads(sidecar(path).read_text(encoding="utf-8"))
            removed = np.asarray(meta["removed_positions"], dtype=np.int64)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{sidecar(path)}: not a readable sidecar ({error.__class__.__name__}: {error})") from None
        if meta.get("ntotal") != index.ntotal:
            raise ValueError(f"{path} holds {index.ntotal} vectors but its sidecar describes {meta.get('ntotal')}: "
                             "a save was interrupted; rebuild the index from the store")
        if removed.ndim != 1 or (removed.size and (removed.min() < 0 or removed.max() >= index.ntotal)):
            raise ValueError(f"{sidecar(path)}: tombstones outside the index's {index.ntotal} positions")
        loaded = cls.__new__(cls)
        loaded._attach(index, removed=removed, writable=not mmap)
        return loaded

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, index_type: str | None = None, **params: int | None) -> VectorIndex:
        """A new index over a whole collection: the type by size unless given, IVF trained on it."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"expected a (n, dim) matrix of vectors, got shape {vectors.shape}")
        index_type = index_type or choose_index_type(len(vectors))
        if index_type == "ivf" and params.get("nlist") is None:
            params["nlist"] = default_nlist(len(vectors))
        index = cls(vectors.shape[1], index_type, **params)
        index.train(vectors)
        index.add(ids, vectors)
        return index

    def _positions_to_ids(self) -> np.ndarray:
        """A view of `IndexIDMap2`'s table (internal position -> id), valid until the next add."""
        if self._index.ntotal == 0:
            return np.empty(0, dtype=np.int64)
        return faiss.rev_swig_ptr(self._index.id_map.data(), self._index.ntotal)

    def _as_matrix(self, vectors: np.ndarray) -> np.ndarray:
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise ValueError(f"expected a (n, {self.dim}) matrix of vectors, got shape {matrix.shape}")
        return matrix

    def _require_writable(self) -> None:
        if not self._writable:
            raise RuntimeError("this index is memory-mapped and read-only; load it with mmap=False to change it")


def _new_faiss_index(dim: int, index_type: str, *, hnsw_m: int, nlist: int | None) -> faiss.Index:
    if index_type == "ivf" and nlist is None:
        raise ValueError("an IVF index needs nlist; VectorIndex.build derives it from the collection size")
    factory = {"flat": "IDMap2,Flat", "hnsw": f"IDMap2,HNSW{hnsw_m},Flat", "ivf": f"IVF{nlist},Flat"}
    if index_type not in factory:
        raise ValueError(f"unknown index type {index_type!r}; expected one of {INDEX_TYPES}")
    return faiss.index_factory(dim, factory[index_type], faiss.METRIC_INNER_PRODUCT)


def _type_of(index: faiss.Index) -> str:
    """Read the type off the FAISS object itself, so a loaded file cannot disagree with a label."""
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "hnsw" if isinstance(faiss.downcast_index(index.index), faiss.IndexHNSW) else "flat"


def _hnsw(index: faiss.Index) -> faiss.HNSW:
    return faiss.downcast_index(index.index).hnsw


def _ivf_ids(index: faiss.IndexIVF) -> np.ndarray:
    lists = index.invlists
    parts = [np.empty(0, dtype=np.int64)]
    for list_no in range(index.nlist):
        size = lists.list_size(list_no)
        if size:
            pointer = lists.get_ids(list_no)
            parts.append(faiss.rev_swig_ptr(pointer, size).copy())
            lists.release_ids(list_no, pointer)
    return np.concatenate(parts)


def _as_ids(ids: np.ndarray) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"ids must be a 1-D array of integers, got {array.dtype} of shape {array.shape}")
    return array.astype(np.int64, copy=False)


def _check_new_ids(ids: np.ndarray, existing: np.ndarray) -> None:
    """Refuse ids that would be ambiguous: negative (-1 means "no result"), repeated, or already live."""
    unique, counts = np.unique(ids, return_counts=True)
    for problem, bad in (("negative", unique[unique < 0]), ("repeated in this batch", unique[counts > 1]),
                         ("already in the index", unique[np.isin(unique, existing)])):
        if bad.size:
            shown = ", ".join(str(i) for i in bad[:_SHOWN_IDS]) + (", ..." if bad.size > _SHOWN_IDS else "")
            raise ValueError(f"{bad.size} ids {problem}: {shown}")


def sidecar(path: Path) -> Path:
    """The file beside a saved index that holds its tombstones and vector count."""
    return path.with_name(path.name + ".meta.json")

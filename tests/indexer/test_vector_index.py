"""VectorIndex: exactness, add/remove bookkeeping, tombstones, atomic save/load and approximate recall."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from indexer import vector_index
from indexer.vector_index import FLAT_MAX_VECTORS, INDEX_TYPES, VectorIndex, choose_index_type

DIM = 32


def normalised(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def random_vectors(count: int, seed: int = 0) -> np.ndarray:
    return normalised(np.random.default_rng(seed).standard_normal((count, DIM)))


def clustered_vectors(centres: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Points around a few centres, like embeddings of topics: neighbours mean something (on uniform
    random vectors every point is about equally far from every other and recall says nothing)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((count, DIM)) * 0.5 / np.sqrt(DIM)
    return normalised(centres[rng.integers(len(centres), size=count)] + noise)


def ready_index(index_type: str, vectors: np.ndarray) -> VectorIndex:
    """An empty index that accepts adds; IVF gets fewer lists than nprobe, so its search is exhaustive."""
    index = VectorIndex(DIM, index_type, nlist=8)
    index.train(vectors)
    return index


def filled_index(index_type: str, count: int = 300) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    vectors = random_vectors(count)
    ids = np.arange(count, dtype=np.int64) * 7 + 100  # sparse, like primary keys after deletions
    index = ready_index(index_type, vectors)
    index.add(ids, vectors)
    return index, ids, vectors


def test_flat_search_equals_brute_force_top_k() -> None:
    index, ids, vectors = filled_index("flat")
    queries = random_vectors(20, seed=1)
    scores, found = index.search(queries, 10)
    all_scores = queries @ vectors.T
    expected = np.argsort(-all_scores, axis=1)[:, :10]
    np.testing.assert_array_equal(found, ids[expected])
    np.testing.assert_allclose(scores, np.take_along_axis(all_scores, expected, axis=1), rtol=1e-5, atol=1e-6)
    assert scores.dtype == np.float32 and found.dtype == np.int64


@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_add_remove_ids_and_len(index_type: str) -> None:
    vectors = random_vectors(300)
    ids = np.arange(300, dtype=np.int64) * 7 + 100
    index = ready_index(index_type, vectors)
    index.add(ids[:200], vectors[:200])
    index.add(ids[200:], vectors[200:])
    assert len(index) == 300
    np.testing.assert_array_equal(index.ids(), ids)

    gone = ids[::3]
    assert index.remove(np.concatenate([gone, [1, 2]])) == len(gone)  # 1 and 2 were never added
    assert index.remove(gone[:5]) == 0
    kept = np.setdiff1d(ids, gone)
    assert len(index) == len(kept)
    np.testing.assert_array_equal(index.ids(), kept)

    _, found = index.search(vectors, 300)
    assert not np.isin(found, gone).any()
    # Each remaining vector still finds itself: ids stay attached to the right vectors after removal.
    keep_rows = np.isin(ids, kept)
    np.testing.assert_array_equal(found[keep_rows, 0], ids[keep_rows])


@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_duplicate_and_negative_ids_are_refused(index_type: str) -> None:
    index, ids, vectors = filled_index(index_type)
    with pytest.raises(ValueError, match=f"already in the index: {ids[0]}, {ids[1]}"):
        index.add(ids[:2], vectors[:2])
    with pytest.raises(ValueError, match="repeated in this batch: 5"):
        index.add(np.array([5, 5]), vectors[:2])
    with pytest.raises(ValueError, match="negative"):
        index.add(np.array([-1]), vectors[:1])
    assert len(index) == len(ids)


@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_search_pads_rows_when_fewer_than_k(index_type: str) -> None:
    index = ready_index(index_type, random_vectors(100))
    scores, found = index.search(random_vectors(2, seed=1), 4)
    assert (found == -1).all() and np.isneginf(scores).all()

    index.add(np.array([10, 11, 12]), random_vectors(3, seed=2))
    index.remove(np.array([12]))
    scores, found = index.search(random_vectors(2, seed=1), 4)
    assert sorted(found[0, :2]) == [10, 11]
    assert (found[:, 2:] == -1).all() and np.isneginf(scores[:, 2:]).all() and np.isfinite(scores[:, :2]).all()


def test_hnsw_removed_id_can_be_added_again_with_a_new_vector() -> None:
    index, ids, vectors = filled_index("hnsw")
    target = ids[5]
    index.remove(np.array([target]))
    new_vector = random_vectors(1, seed=9)
    index.add(np.array([target]), new_vector)
    assert len(index) == len(ids) and np.isin(target, index.ids())

    queries = np.vstack([new_vector, vectors[5:6]])
    scores, found = index.search(queries, 20)
    assert found[0, 0] == target
    hits = found == target
    assert hits.sum(axis=1).max() == 1
    # Wherever the id comes back it scores as its new vector: the old one stays under its tombstone.
    np.testing.assert_allclose(scores[hits], (queries @ new_vector[0])[hits.any(axis=1)], rtol=1e-5)
    assert index.remove(np.array([target])) == 1
    assert not np.isin(target, index.ids())


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_save_load_round_trip_gives_identical_results(tmp_path: Path, index_type: str, mmap: bool) -> None:
    index, ids, _ = filled_index(index_type)
    index.remove(ids[::4])
    path = tmp_path / "vectors.faiss"
    index.save(path)
    loaded = VectorIndex.load(path, mmap=mmap)
    assert (loaded.index_type, loaded.dim, len(loaded)) == (index_type, DIM, len(index))
    np.testing.assert_array_equal(loaded.ids(), index.ids())
    queries = random_vectors(30, seed=3)
    for got, want in zip(loaded.search(queries, 10), index.search(queries, 10)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("index_type", INDEX_TYPES)
def test_mapped_index_is_read_only_and_a_copy_is_writable(tmp_path: Path, index_type: str) -> None:
    index, ids, vectors = filled_index(index_type)
    index.save(tmp_path / "vectors.faiss")
    mapped = VectorIndex.load(tmp_path / "vectors.faiss")
    for change in (lambda: mapped.add(np.array([1]), vectors[:1]), lambda: mapped.remove(ids[:1])):
        with pytest.raises(RuntimeError, match="mmap=False"):
            change()
    copy = VectorIndex.load(tmp_path / "vectors.faiss", mmap=False)
    copy.add(np.array([1]), vectors[:1])
    assert copy.remove(ids[:2]) == 2 and len(copy) == len(ids) - 1


def test_hnsw_tombstones_survive_save_and_load(tmp_path: Path) -> None:
    index, ids, vectors = filled_index("hnsw")
    index.remove(ids[:50])
    index.save(tmp_path / "vectors.faiss")
    loaded = VectorIndex.load(tmp_path / "vectors.faiss", mmap=False)
    np.testing.assert_array_equal(loaded.ids(), ids[50:])
    _, found = loaded.search(vectors[:50], 10)
    assert not np.isin(found, ids[:50]).any()
    loaded.add(ids[:1], vectors[:1])
    assert loaded.search(vectors[:1], 1)[1][0, 0] == ids[0]


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    index, ids, _ = filled_index("hnsw")
    index.save(tmp_path / "vectors.faiss")
    index.remove(ids[:3])
    index.save(tmp_path / "vectors.faiss")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.faiss", "vectors.faiss.meta.json"]


def test_interrupted_write_leaves_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index, _, vectors = filled_index("flat")
    path = tmp_path / "vectors.faiss"
    index.save(path)
    before = path.read_bytes()

    def crash_midway(_: faiss.Index, target: str) -> None:
        Path(target).write_bytes(b"half an index")
        raise OSError("disk full")

    monkeypatch.setattr(vector_index.faiss, "write_index", crash_midway)
    index.add(np.array([1]), vectors[:1])
    with pytest.raises(OSError, match="disk full"):
        index.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.faiss", "vectors.faiss.meta.json"]
    monkeypatch.undo()
    assert len(VectorIndex.load(path)) == len(index) - 1


def test_crash_between_index_and_sidecar_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index, ids, vectors = filled_index("hnsw")
    path = tmp_path / "vectors.faiss"
    index.save(path)
    index.remove(ids[:1])
    index.add(np.array([1]), vectors[:1])

    def crash(*_: object, **__: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(Path, "write_text", crash)  # the index file is renamed, its sidecar never written
    with pytest.raises(OSError, match="power cut"):
        index.save(path)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="interrupted"):
        VectorIndex.load(path)


def test_ivf_must_be_trained_before_add() -> None:
    index = VectorIndex(DIM, "ivf", nlist=8)
    with pytest.raises(RuntimeError, match="trained"):
        index.add(np.array([1]), random_vectors(1))
    with pytest.raises(ValueError, match="nlist"):
        VectorIndex(DIM, "ivf")


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_approximate_recall_at_10_against_exact(index_type: str) -> None:
    centres = random_vectors(40, seed=1)
    vectors, queries = clustered_vectors(centres, 4000, seed=2), clustered_vectors(centres, 200, seed=3)
    ids = np.arange(len(vectors), dtype=np.int64)
    _, exact = VectorIndex.build(ids, vectors, "flat").search(queries, 10)
    approximate_index = VectorIndex.build(ids, vectors, index_type)
    assert approximate_index.index_type == index_type
    _, approximate = approximate_index.search(queries, 10)
    recall = np.mean([len(np.intersect1d(a, e)) / 10 for a, e in zip(approximate, exact)])
    assert recall >= 0.9


def test_index_type_is_chosen_by_size() -> None:
    assert choose_index_type(0) == "flat"
    assert choose_index_type(FLAT_MAX_VECTORS) == "flat"
    assert choose_index_type(FLAT_MAX_VECTORS + 1) == "hnsw"
    assert VectorIndex.build(np.arange(10), random_vectors(10)).index_type == "flat"


def test_unknown_type_and_wrong_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown index type"):
        VectorIndex(DIM, "lsh")
    index, _, _ = filled_index("flat", count=10)
    with pytest.raises(ValueError, match=f"\\(n, {DIM}\\)"):
        index.search(np.zeros((1, DIM + 1), dtype=np.float32), 3)
    with pytest.raises(ValueError, match="2 ids for 1 vectors"):
        index.add(np.array([1, 2]), random_vectors(1))

"""The FAISS snapshot: exact search, filtered search, atomic save, damage detected on load."""

from pathlib import Path

import numpy as np
import pytest

from app.store.embedded.vectors import DamagedSnapshot, VectorIndex


def unit(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_search_finds_the_vector_itself_first() -> None:
    index = VectorIndex(8)
    vectors = unit(100)
    index.apply(1, np.arange(10, 110), vectors, np.zeros(0, np.int64))
    scores, ids = index.search(vectors[[3, 50]], 5)
    assert ids[:, 0].tolist() == [13, 60]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)


def test_removed_ids_are_no_longer_found() -> None:
    index = VectorIndex(8)
    vectors = unit(20)
    index.apply(1, np.arange(20), vectors, np.zeros(0, np.int64))
    index.apply(2, np.zeros(0, np.int64), np.zeros((0, 8), np.float32), np.array([5]))
    _, ids = index.search(vectors[[5]], 20)
    assert 5 not in ids[0] and index.ntotal == 19 and index.seq == 2


def test_allowed_ids_restrict_the_search_and_still_fill_k() -> None:
    index = VectorIndex(8)
    vectors = unit(500)
    index.apply(1, np.arange(500), vectors, np.zeros(0, np.int64))
    allowed = np.arange(0, 500, 7)
    _, ids = index.search(vectors[[1]], 10, allowed)
    assert len(ids[0]) == 10 and set(ids[0].tolist()) <= set(allowed.tolist())


def test_a_saved_snapshot_loads_with_its_sequence(tmp_path: Path) -> None:
    index = VectorIndex(8)
    vectors = unit(30)
    index.apply(7, np.arange(30), vectors, np.zeros(0, np.int64))
    assert index.save(tmp_path / "v.faiss") == 7
    loaded = VectorIndex.load(tmp_path / "v.faiss", 8)
    assert loaded.seq == 7 and loaded.ntotal == 30
    assert loaded.search(vectors[[4]], 1)[1][0, 0] == 4
    assert not (tmp_path / "v.faiss.tmp").exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_a_damaged_snapshot_is_detected(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "v.faiss"
    index = VectorIndex(8)
    index.apply(1, np.arange(30), unit(30), np.zeros(0, np.int64))
    index.save(path)
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":
        raw[-10] ^= 0xFF
    elif damage == "empty":
        raw = bytearray()
    else:
        raw = bytearray(b"not a faiss index at all" * 10)
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedSnapshot):
        VectorIndex.load(path, 8)


def test_a_snapshot_of_another_dimension_is_refused(tmp_path: Path) -> None:
    index = VectorIndex(8)
    index.save(tmp_path / "v.faiss")
    with pytest.raises(DamagedSnapshot):
        VectorIndex.load(tmp_path / "v.faiss", 16)

"""The FAISS index of one collection: a snapshot that knows the last sequence number it holds."""

import os
import struct
import threading
import zlib
from pathlib import Path

import faiss
import numpy as np

MAGIC = b"SEMSVEC1"
HEADER = struct.Struct("<8sqIQ")  # magic, seq, crc32 of the index bytes, length of the index bytes
INDEX_TYPES = ("flat",)


class DamagedSnapshot(Exception):
    """The snapshot file cannot be trusted; rebuild from SQLite."""


def new_faiss_index(dimension: int, index_type: str) -> faiss.Index:
    if index_type != "flat":
        raise ValueError(f"unsupported index type {index_type!r}")
    return faiss.IndexIDMap(faiss.IndexFlatIP(dimension))


class VectorIndex:
    """Thread-safe FAISS index keyed by chunk id. Each operation holds a short lock, so a
    search waits at most for one add or remove, never for an ingest."""

    def __init__(self, dimension: int, index_type: str = "flat") -> None:
        self.dimension = dimension
        self.index_type = index_type
        self._index = new_faiss_index(dimension, index_type)
        self._lock = threading.Lock()
        self.seq = 0

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def apply(
        self, seq: int, add_ids: np.ndarray, add_vectors: np.ndarray, remove_ids: np.ndarray
    ) -> None:
        """Bring the index to `seq`: remove then add; ids are never reused."""
        with self._lock:
            if len(remove_ids):
                self._index.remove_ids(np.ascontiguousarray(remove_ids, dtype=np.int64))  # type: ignore[arg-type]
            if len(add_ids):
                self._index.add_with_ids(
                    np.ascontiguousarray(add_vectors, dtype=np.float32),
                    np.ascontiguousarray(add_ids, dtype=np.int64),
                )
            self.seq = max(self.seq, seq)

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; ids of -1 pad when fewer exist. `allowed_ids`
        restricts the search itself to those ids (a FAISS IDSelector)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        params = None
        if allowed_ids is not None:
            allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
            selector = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        with self._lock:
            k = max(1, min(k, max(self.ntotal, 1)))
            if params is None:
                scores, ids = self._index.search(queries, k)
            else:
                scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

    # -- snapshots -----------------------------------------------------------------------------
    def save(self, path: Path) -> int:
        """Write the index atomically (temp file, fsync, rename); returns the seq it holds."""
        with self._lock:
            data = faiss.serialize_index(self._index)
            seq = self.seq
        payload = data.tobytes()
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(HEADER.pack(MAGIC, seq, zlib.crc32(payload), len(payload)))
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return seq

    @classmethod
    def load(cls, path: Path, dimension: int, index_type: str = "flat") -> "VectorIndex":
        """Read a snapshot; raises DamagedSnapshot if it is truncated, corrupt or mismatched."""
        raw = path.read_bytes()
        if len(raw) < HEADER.size:
            raise DamagedSnapshot("file shorter than its header")
        magic, seq, crc, length = HEADER.unpack_from(raw)
        payload = raw[HEADER.size :]
        if magic != MAGIC or length != len(payload) or zlib.crc32(payload) != crc:
            raise DamagedSnapshot("header or checksum does not match")
        try:
            index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        except RuntimeError as exc:
            raise DamagedSnapshot(str(exc)) from exc
        if index.d != dimension:
            raise DamagedSnapshot(f"dimension {index.d} != {dimension}")
        vi = cls(dimension, index_type)
        vi._index = index
        vi.seq = int(seq)
        return vi

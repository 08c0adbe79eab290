"""The FAISS index of one collection: a snapshot that knows the last sequence number it holds.

A collection's index is one of the types in index_spec: exact (Flat), HNSW, IVF, with optional
8-bit scalar or product quantization, or any FAISS factory string whose searches can be
filtered. Types that train, and `auto`, start exact and move over in the background
(index_build); this module holds one concrete FAISS index and how to add to it, remove from
it and search it.
"""

import json
import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from app.store.embedded.index_spec import EXACT, REGROW_FACTOR, IndexSpec, core_index

MAGIC_V1 = b"SEMSVEC1"  # header, FAISS index (an exact index; written by earlier versions)
HEADER_V1 = struct.Struct("<8sqIQ")  # magic, seq, crc32 of the index bytes, their length
MAGIC = b"SEMSVEC2"
# magic, seq, crc32 of everything after the header, meta length, index length, removed count
HEADER = struct.Struct("<8sqIIQQ")

_NO_IDS = np.zeros(0, np.int64)
# FAISS threads for a search of several queries. One query runs on the calling thread alone:
# its parallel region has nothing to share out, and waking idle threads costs more than the
# search itself on a busy machine. OpenMP keeps the setting per calling thread.
_search_threads = faiss.omp_get_max_threads()


def set_search_threads(threads: int) -> None:
    """FAISS threads for searches of more than one query (the benchmark's --threads)."""
    global _search_threads
    _search_threads = max(1, threads)


_faiss: Any = faiss  # the parts of FAISS its type stubs leave out

# An exact search of at least this many queries scores them with one matrix product (BLAS)
# instead of one scan of the index per query. FAISS compares queries x dimension with the
# threshold; its default, 128,000, leaves every batch a service gathers to the per-query scan,
# which on 31,103 vectors of 384 dimensions takes 23 ms for 8 queries against 9 to 12 ms with
# BLAS. A single query keeps the scan (3.6 ms against 8 ms). Set here for the whole process,
# as a count of queries of the usual 384 dimensions.
BLAS_THRESHOLD = 4 * 384
_faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD


class DamagedSnapshot(Exception):
    """The snapshot file cannot be trusted; rebuild from SQLite."""


def build_faiss_index(dimension: int, factory: str, ef_construction: int = 0) -> faiss.Index:
    """An empty index for a factory string, inner-product metric, keyed by chunk id: IVF
    indexes key their entries themselves; the rest are wrapped in an IDMap."""
    index = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    core = core_index(index)
    if isinstance(core, faiss.IndexHNSW) and ef_construction:
        core.hnsw.efConstruction = ef_construction
    if _keys_own_ids(index):
        return index
    return faiss.IndexIDMap(index)


def _keys_own_ids(index: faiss.Index) -> bool:
    index = faiss.downcast_index(index)
    while isinstance(index, faiss.IndexPreTransform):
        index = faiss.downcast_index(index.index)
    return isinstance(index, faiss.IndexIDMap | faiss.IndexIVF)


def _ids(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.int64)


class ConcreteIndex:
    """One FAISS index and what serving it takes. HNSW cannot remove entries: removed ids
    are kept out of every search by a selector until the index is rebuilt without them."""

    def __init__(
        self, index: faiss.Index, label: str, removed: np.ndarray | None = None, trained_at: int = 0
    ) -> None:
        self.faiss = index
        self.label = label
        self.trained_at = trained_at
        self._outer: Any = faiss.downcast_index(index)
        self._core: Any = core_index(index)
        self.graph = isinstance(self._core, faiss.IndexHNSW)
        self.ivf = (
            faiss.try_extract_index_ivf(index) if isinstance(self._core, faiss.IndexIVF) else None
        )
        self.exhaustive = not self.graph and (self.ivf is None or self.ivf.nlist == 1)
        self.removed = np.sort(_ids(removed)) if removed is not None else _NO_IDS
        self._removed_selector: Any = None

    @classmethod
    def new(cls, dimension: int, factory: str, ef_construction: int = 0) -> "ConcreteIndex":
        return cls(build_faiss_index(dimension, factory, ef_construction), factory)

    @property
    def size(self) -> int:
        """Entries FAISS holds, removed ones included."""
        return int(self.faiss.ntotal)

    @property
    def live(self) -> int:
        return self.size - len(self.removed)

    @property
    def is_trained(self) -> bool:
        return bool(self.faiss.is_trained)

    def train(self, vectors: np.ndarray) -> None:
        self.faiss.train(np.ascontiguousarray(vectors, dtype=np.float32))
        self.trained_at = len(vectors)

    # -- writes --------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.faiss.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), _ids(ids))

    def remove(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        ids = _ids(ids)
        if not self.graph:
            self.faiss.remove_ids(ids)  # type: ignore[arg-type]
            return
        present = ids[np.isin(ids, self._id_map())]
        fresh = np.setdiff1d(present, self.removed)
        if len(fresh):
            self.removed = np.union1d(self.removed, fresh)
            self._removed_selector = None

    def _id_map(self) -> np.ndarray:
        return faiss.vector_to_array(self._outer.id_map)

    # -- search --------------------------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        ef_search: int,
        nprobe: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k per query among the live ids (and `allowed`, when given). Each row holds
        min(k, candidates) hits: an approximate search that comes back short, as a graph
        or a few probed lists can under a narrow filter, is redone exhaustively."""
        selector: Any = None  # IDSelectorBatch copies the ids it is given
        if allowed is not None:
            allowed = _ids(allowed)
            if len(self.removed):
                allowed = np.setdiff1d(allowed, self.removed)
            candidates = len(allowed)
            selector = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
        else:
            candidates = self.live
            if len(self.removed):
                selector = self._exclude_removed()
        k = max(1, min(k, max(self.size, 1)))
        faiss.omp_set_num_threads(1 if len(queries) == 1 else _search_threads)
        if candidates == 0:
            return (
                np.full((len(queries), k), -np.inf, np.float32),
                np.full((len(queries), k), -1, np.int64),
            )
        scores, ids = self.faiss.search(
            queries, k, params=self._params(selector, k, ef_search, nprobe)
        )
        if self.exhaustive:
            return scores, ids
        short = np.flatnonzero((ids >= 0).sum(axis=1) < min(k, candidates))
        if len(short):
            s, i = self._exhaustive_search(queries[short], k, selector)
            scores[short], ids[short] = s, i
        return scores, ids

    def _exclude_removed(self) -> Any:
        if self._removed_selector is None:
            batch = faiss.IDSelectorBatch(len(self.removed), faiss.swig_ptr(self.removed))
            selector: Any = faiss.IDSelectorNot(batch)
            selector.referenced = (batch, self.removed)  # keep what the selector points to
            self._removed_selector = selector
        return self._removed_selector

    def _params(self, selector: Any, k: int, ef_search: int, nprobe: int) -> Any:
        if self.graph:
            return _faiss.SearchParametersHNSW(sel=selector, efSearch=max(ef_search, k))
        if self.ivf is not None:
            return _faiss.SearchParametersIVF(sel=selector, nprobe=min(nprobe, self.ivf.nlist))
        return _faiss.SearchParameters(sel=selector) if selector is not None else None

    def _exhaustive_search(
        self, queries: np.ndarray, k: int, selector: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every candidate scored: all inverted lists, or a scan of the graph's stored vectors."""
        if self.ivf is not None:
            ivf_params = _faiss.SearchParametersIVF(sel=selector, nprobe=self.ivf.nlist)
            scores, ids = self.faiss.search(queries, k, params=ivf_params)
            return scores, ids
        # A graph inside an IDMap, perhaps behind transforms: scan its storage by position.
        outer = self._outer
        inner: Any = faiss.downcast_index(outer.index)
        x = np.ascontiguousarray(queries, dtype=np.float32)
        while isinstance(inner, faiss.IndexPreTransform):
            chain: Any = inner.chain
            for i in range(chain.size()):
                x = chain.at(i).apply(x)
            inner = faiss.downcast_index(inner.index)
        storage = faiss.downcast_index(inner.storage)
        translated = _faiss.IDSelectorTranslated(outer.id_map, selector) if selector else None
        params = _faiss.SearchParameters(sel=translated) if translated is not None else None
        scores, positions = storage.search(x, k, params=params)
        id_map = self._id_map()
        ids = np.where(positions >= 0, id_map[np.maximum(positions, 0)], -1)
        return scores, ids

    # -- bytes ---------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {"label": self.label, "trained_at": self.trained_at}


class VectorIndex:
    """Thread-safe index keyed by chunk id. Each operation holds a short lock, so a search
    waits at most for one add or remove, never for an ingest; a background build swaps its
    finished index in under the same lock."""

    def __init__(
        self, dimension: int, spec: IndexSpec | None = None, *, exact: bool = False
    ) -> None:
        """A new empty index: the target type straight away when it needs neither training
        nor a threshold, otherwise exact search until the background build (or `exact`)."""
        self.dimension = dimension
        self.spec = spec or IndexSpec("flat", {"quantization": "none"}, dimension)
        self._lock = threading.Lock()
        self.seq = 0
        self.swaps = 0  # how many times a built index replaced the one in use
        held = ConcreteIndex.new(dimension, EXACT)
        if not exact and not self.spec.exact_only and self.spec.threshold == 0:
            target = self.new_target(0)
            if target.is_trained:
                held = target
        self._held = held

    @property
    def index_type(self) -> str:
        return self.spec.index

    @property
    def ntotal(self) -> int:
        """Live vectors: those a search can return."""
        return self._held.live

    @property
    def in_use(self) -> str:
        """FAISS factory string of the index serving searches now."""
        return self._held.label

    @property
    def removed_pending(self) -> int:
        """Removed vectors an HNSW index still holds, kept out of searches by a filter."""
        return len(self._held.removed)

    # -- what the background build should do ---------------------------------------------------
    def build_reason(self) -> str | None:
        """Why the index should be rebuilt from SQLite now, or None."""
        held, spec = self._held, self.spec
        staging = held.label == EXACT and not spec.exact_only
        if staging:
            return "move" if held.live >= max(1, spec.threshold) else None
        if len(held.removed) and len(held.removed) >= spec.compact_fraction * held.size:
            return "compact"
        if spec.auto_nlist and held.trained_at and held.live >= REGROW_FACTOR * held.trained_at:
            return "regrow"
        return None

    def new_target(self, n: int) -> ConcreteIndex:
        """An empty target index for a collection of n vectors (untrained if it trains)."""
        factory = self.spec.target_factory(n)
        ef_construction = int(self.spec.options.get("ef_construction") or 0)
        return ConcreteIndex.new(self.dimension, factory, ef_construction)

    def swap(self, held: ConcreteIndex, seq: int) -> None:
        """Serve searches from `held`, which holds everything up to `seq`."""
        with self._lock:
            self._held = held
            self.seq = max(self.seq, seq)
            self.swaps += 1

    # -- writes and searches -------------------------------------------------------------------
    def apply(
        self, seq: int, add_ids: np.ndarray, add_vectors: np.ndarray, remove_ids: np.ndarray
    ) -> None:
        """Bring the index to `seq`: remove then add; ids are never reused."""
        with self._lock:
            self._held.remove(remove_ids)
            self._held.add(add_ids, add_vectors)
            self.seq = max(self.seq, seq)

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; ids of -1 pad when fewer exist. `allowed_ids`
        restricts the search itself to those ids (a FAISS IDSelector)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        spec = self.spec
        with self._lock:
            return self._held.search(queries, k, allowed_ids, spec.ef_search, spec.nprobe)

    # -- snapshots -----------------------------------------------------------------------------
    def save(self, path: Path) -> int:
        """Write the index atomically (temp file, fsync, rename); returns the seq it holds."""
        with self._lock:
            data = faiss.serialize_index(self._held.faiss)
            removed = self._held.removed.copy()
            meta = json.dumps(self._held.meta()).encode()
            seq = self.seq
        removed_bytes = removed.astype("<i8").tobytes()
        crc = zlib.crc32(removed_bytes, zlib.crc32(data.data, zlib.crc32(meta)))
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(HEADER.pack(MAGIC, seq, crc, len(meta), len(data), len(removed)))
            f.write(meta)
            f.write(data.data)
            f.write(removed_bytes)
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
    def load(cls, path: Path, dimension: int, spec: IndexSpec | None = None) -> "VectorIndex":
        """Read a snapshot; raises DamagedSnapshot if it is truncated, corrupt or mismatched."""
        raw = path.read_bytes()
        seq, meta, payload, removed = _parse_snapshot(raw)
        try:
            index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        except RuntimeError as exc:
            raise DamagedSnapshot(str(exc)) from exc
        if index.d != dimension:
            raise DamagedSnapshot(f"dimension {index.d} != {dimension}")
        vi = cls(dimension, spec, exact=True)
        try:
            held = ConcreteIndex(
                index, str(meta.get("label", EXACT)), removed, int(meta.get("trained_at", 0))
            )
        except (RuntimeError, AttributeError, TypeError, ValueError) as exc:
            raise DamagedSnapshot(f"unusable index: {exc}") from exc
        if held.graph and not isinstance(held._outer, faiss.IndexIDMap):
            raise DamagedSnapshot("a graph index without ids")
        vi._held = held
        vi.seq = int(seq)
        return vi


def _parse_snapshot(raw: bytes) -> tuple[int, dict[str, Any], memoryview, np.ndarray]:
    """(seq, meta, index bytes, removed ids) of a snapshot file, checked."""
    view = memoryview(raw)
    if raw[:8] == MAGIC_V1 and len(raw) >= HEADER_V1.size:
        _, seq, crc, length = HEADER_V1.unpack_from(raw)
        payload = view[HEADER_V1.size :]
        if length != len(payload) or zlib.crc32(payload) != crc:
            raise DamagedSnapshot("header or checksum does not match")
        return seq, {"label": EXACT}, payload, _NO_IDS
    if len(raw) < HEADER.size:
        raise DamagedSnapshot("file shorter than its header")
    magic, seq, crc, meta_len, index_len, removed_count = HEADER.unpack_from(raw)
    body = view[HEADER.size :]
    if magic != MAGIC or meta_len + index_len + 8 * removed_count != len(body):
        raise DamagedSnapshot("header does not match the file")
    if zlib.crc32(body) != crc:
        raise DamagedSnapshot("checksum does not match")
    try:
        meta = json.loads(bytes(body[:meta_len]))
    except ValueError as exc:
        raise DamagedSnapshot(f"meta: {exc}") from exc
    if not isinstance(meta, dict):
        raise DamagedSnapshot("meta is not an object")
    payload = body[meta_len : meta_len + index_len]
    removed = np.frombuffer(body[meta_len + index_len :], dtype="<i8").astype(np.int64)
    return seq, meta, payload, removed

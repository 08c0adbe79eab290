"""Background builds of a collection's index from the vectors stored in SQLite.

A build moves a collection from exact search to its approximate index once it holds enough
vectors (auto, and the types that train), rebuilds an HNSW index without the entries it
could only hide (compaction), and retrains an IVF index whose automatic nlist it outgrew.
Searches and ingests go on meanwhile against the index in use: the build reads SQLite, then
catches up on the writes made since it started, by sequence number, and swaps its index in
under the collection's write lock (held for the last few writes only) and the index's
short lock.
"""

import logging
import threading
from collections.abc import Callable

import numpy as np

from app.store.embedded.docstore import DocStore
from app.store.embedded.vectors import ConcreteIndex, VectorIndex

log = logging.getLogger(__name__)

MAX_TRAIN = 200_000  # most vectors an index trains on
MIN_TRAIN_SAMPLE = 20_000
TRAIN_PER_LIST = 64  # training vectors per inverted list, up to MAX_TRAIN
READ_BATCH = 10_000


class BuildStopped(Exception):
    """The collection closed while its index was being built."""


class IndexBuilder:
    """Runs at most one build at a time for one collection, in a daemon thread."""

    def __init__(
        self, name: str, docstore: DocStore, vectors: VectorIndex, write_lock: threading.Lock
    ) -> None:
        self.name = name
        self.docstore = docstore
        self.vectors = vectors
        self.write_lock = write_lock
        self.last_error: str | None = None
        # Called after the first pass over SQLite, before catching up (a test seam).
        self.after_first_pass: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started_seq: int | None = None
        self._failed_at = 0

    @property
    def building(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def keep_tombstones_after(self) -> int | None:
        """While a build runs, tombstones after the seq it started at must stay in SQLite."""
        return self._started_seq

    def maybe_start(self) -> bool:
        """Start a build if the index wants one and none runs; True if one started."""
        reason = self.vectors.build_reason()
        if reason is None or self._stop.is_set():
            return False
        if self._failed_at and self.vectors.ntotal < 2 * self._failed_at:
            return False  # failed before: try again once the collection has doubled
        with self._lock:
            if self.building:
                return False
            self._started_seq = self.docstore.last_seq()
            self._thread = threading.Thread(
                target=self._run,
                args=(reason,),
                name=f"semsearch-index-{self.name}",
                daemon=True,
            )
            self._thread.start()
        return True

    def wait(self, timeout: float) -> bool:
        """Wait for a running build to end; True when none runs."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.building

    def close(self) -> None:
        """Stop a running build (it is dropped; the next open starts it again)."""
        self._stop.set()
        self.wait(600)

    # -- the build -----------------------------------------------------------------------------
    def _run(self, reason: str) -> None:
        seq0 = self._started_seq or 0
        try:
            log.info(
                "collection %s: building %s index (%s)",
                self.name,
                self.vectors.spec.target_factory(self.vectors.ntotal),
                reason,
            )
            built = self._build(seq0)
            if built is not None:
                self._failed_at = 0
                self.last_error = None
                log.info("collection %s: now searching %s", self.name, built.label)
        except BuildStopped:
            log.info("collection %s: index build stopped", self.name)
        except Exception as exc:
            self._failed_at = max(1, self.vectors.ntotal)
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("collection %s: index build failed; searches stay exact", self.name)
        finally:
            self._started_seq = None

    def _check(self) -> None:
        if self._stop.is_set():
            raise BuildStopped()

    def _build(self, seq0: int) -> ConcreteIndex | None:
        _, chunks = self.docstore.count()
        target = self.vectors.new_target(chunks)
        if not target.is_trained:
            target.train(self._training_sample(chunks, target))
        target.trained_at = chunks
        # First pass: everything stored now, read by id; later writes are caught up below.
        last_id = 0
        for ids, batch in self.docstore.vectors_since(0, READ_BATCH):
            self._check()
            target.add(ids, batch)
            last_id = int(ids[-1])
        if self.after_first_pass is not None:
            self.after_first_pass()
        # Catch up without the write lock, then the last few writes under it.
        seq1 = self.docstore.last_seq()
        last_id = self._catch_up(target, seq0, last_id)
        self._check()
        with self.write_lock:
            seq2 = self.docstore.last_seq()
            self._catch_up(target, seq1, last_id)
            _, chunks_now = self.docstore.count()
            if target.live != chunks_now:
                raise RuntimeError(
                    f"built index holds {target.live} vectors for {chunks_now} chunks"
                )
            self._check()
            self.vectors.swap(target, seq2)
        return target

    def _catch_up(self, target: ConcreteIndex, since: int, last_id: int) -> int:
        """Apply the writes after `since`: deletes, then chunks not yet read (ids only grow,
        so a chunk with an id past `last_id` is one the earlier passes have not seen)."""
        target.remove(self.docstore.tombstones_since(since))
        for ids, batch in self.docstore.vectors_since(since, READ_BATCH):
            self._check()
            fresh = ids > last_id
            if fresh.any():
                target.add(ids[fresh], batch[fresh])
                last_id = int(ids[-1])
        return last_id

    def _training_sample(self, chunks: int, target: ConcreteIndex) -> np.ndarray:
        """An even random sample of the stored vectors."""
        nlist = int(target.ivf.nlist) if target.ivf is not None else 1
        size = min(chunks, MAX_TRAIN, max(MIN_TRAIN_SAMPLE, TRAIN_PER_LIST * nlist))
        rng = np.random.default_rng(chunks)
        keep = size / max(chunks, 1)
        parts = []
        for _, batch in self.docstore.vectors_since(0, READ_BATCH):
            self._check()
            parts.append(batch[rng.random(len(batch)) < keep] if keep < 1 else batch)
        sample = np.concatenate(parts) if parts else np.zeros((0, self.vectors.dimension))
        if len(sample) < nlist:
            raise RuntimeError(f"{len(sample)} vectors cannot train {nlist} lists")
        return sample

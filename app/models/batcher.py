"""Gathers concurrent encode calls into one encoder call.

One worker thread owns the encoder. Small requests (queries, small ingests, /embed of a few
texts) wait in the interactive queue; whatever is waiting when the worker is free, up to
`max_batch` texts, goes into one call. When the previous call gathered several requests, the
worker first waits up to `max_wait_s` for more to arrive; a lone client never waits.
Large requests are cut into pieces of `bulk_piece` texts that go one at a time through the bulk
queue, so a query never waits behind more than one piece of an ingest. The queue is bounded:
beyond `max_queue` waiting requests a new one is refused with Overloaded (429), never queued.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.errors import Overloaded, ServiceError
from app.models.encoder import Encoder

log = logging.getLogger(__name__)

BatchObserver = Callable[[int, int], None]
"""Called after each encoder call with (texts in the call, texts still waiting)."""


@dataclass(eq=False)
class _Request:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: BaseException | None = None


class EncodeBatcher:
    """A bounded two-level queue in front of one encode function, served by one thread."""

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray],
        *,
        max_batch: int = 64,
        max_wait_s: float = 0.002,
        max_queue: int = 256,
        bulk_piece: int = 32,
        retry_after_s: int = 1,
        observer: BatchObserver | None = None,
    ) -> None:
        if max_batch < 1 or bulk_piece < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError("max_batch, bulk_piece and max_queue must be >= 1, max_wait_s >= 0")
        self._encode = encode
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.bulk_piece = bulk_piece
        self.retry_after_s = retry_after_s
        self._observer = observer
        self._interactive: deque[_Request] = deque()
        self._bulk: deque[_Request] = deque()
        self._waiting_texts = 0
        self._last_requests = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="semsearch-encoder", daemon=True)
        self._thread.start()

    # -- callers -------------------------------------------------------------------------------
    @property
    def queued_texts(self) -> int:
        """Texts waiting for the encoder now."""
        return self._waiting_texts

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts, sharing encoder calls with concurrent callers. Blocks the caller."""
        if len(texts) <= self.bulk_piece:
            return self._wait(self._submit(texts, self._interactive, admitted=False))
        pieces = []
        for start in range(0, len(texts), self.bulk_piece):
            piece = texts[start : start + self.bulk_piece]
            # Only the first piece can be refused: a request once admitted runs to its end.
            pieces.append(self._wait(self._submit(piece, self._bulk, admitted=start > 0)))
        return np.concatenate(pieces)

    def _submit(self, texts: list[str], queue: deque[_Request], admitted: bool) -> _Request:
        request = _Request(list(texts))
        with self._cond:
            if self._closed:
                raise ServiceError("the encoder is shutting down")
            waiting = len(self._interactive) + len(self._bulk)
            if not admitted and waiting >= self.max_queue:
                raise Overloaded(
                    f"encoder queue: {waiting} requests are waiting and max_encode_queue is "
                    f"{self.max_queue}; retry shortly",
                    headers={"Retry-After": str(self.retry_after_s)},
                )
            queue.append(request)
            self._waiting_texts += len(request.texts)
            self._cond.notify()
        return request

    @staticmethod
    def _wait(request: _Request) -> np.ndarray:
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    # -- the worker ----------------------------------------------------------------------------
    def _take(self) -> list[_Request] | None:
        """The next batch: interactive requests first (gathered), else one bulk piece."""
        with self._cond:
            while not self._interactive and not self._bulk:
                if self._closed:
                    return None
                self._cond.wait()
            if not self._interactive:
                batch = [self._bulk.popleft()]
            else:
                batch, size = [], 0
                # Wait for company only when the last call had some: a lone client never waits.
                wait_s = self.max_wait_s if self._last_requests > 1 else 0.0
                deadline = time.monotonic() + wait_s
                while True:
                    while self._interactive and (
                        size + len(self._interactive[0].texts) <= self.max_batch or not batch
                    ):
                        request = self._interactive.popleft()
                        batch.append(request)
                        size += len(request.texts)
                    remaining = deadline - time.monotonic()
                    if size >= self.max_batch or self._interactive or remaining <= 0:
                        break
                    self._cond.wait(remaining)
            self._waiting_texts -= sum(len(r.texts) for r in batch)
            self._last_requests = len(batch)
            return batch

    def _serve(self) -> None:
        while (batch := self._take()) is not None:
            texts = [t for request in batch for t in request.texts]
            try:
                vectors = self._encode(texts)
            except BaseException as exc:  # every waiting caller gets the failure
                log.exception("encoder call of %d texts failed", len(texts))
                for request in batch:
                    request.error = exc
                    request.done.set()
                continue
            start = 0
            for request in batch:
                request.vectors = vectors[start : start + len(request.texts)]
                start += len(request.texts)
                request.done.set()
            if self._observer is not None:
                self._observer(len(texts), self._waiting_texts)

    def close(self) -> None:
        """Finish what is queued, then stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=30)


class BatchingEncoder(Encoder):
    """The same encoder with its `encode` calls gathered by an EncodeBatcher; everything else
    (tokenizer, dimension, name) is the wrapped encoder's own."""

    def __init__(self, inner: Encoder, batcher: EncodeBatcher) -> None:
        # No super().__init__(): the model is the one `inner` already loaded.
        self._inner = inner
        self._batcher = batcher

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") or name in ("_inner", "_batcher"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def batcher(self) -> EncodeBatcher:
        return self._batcher

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return self._inner.encode(texts)
        return self._batcher.encode(texts)

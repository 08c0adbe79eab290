"""Gathers concurrent encode calls into one encoder call, and cuts large ones into short pieces.

One worker thread owns the encoder. Small requests (queries, small ingests, /embed of a few
texts) wait in the interactive queue; whatever is waiting when the worker is free, up to
`max_batch` texts, goes into one call. When fewer requests are waiting than the company the
previous call had (the requests it served plus those that arrived while it ran), the worker
first waits up to `max_wait_s` for the others: clients answered together tend to come back
together, and counting the latecomers lets two half-size groups that alternate merge into one
call. A lone client never waits.

A request whose texts would take longer than `piece_ms` to encode goes to the bulk queue. Its
texts are sorted longest first (so each piece pads little, as sentence-transformers does within
a call) and encoded a piece at a time; interactive requests go ahead of the next piece. While
queries are coming, each piece is sized to take about `piece_ms`, so a query waits behind at
most about one short piece; when none has come for `quiet_after_s`, pieces grow to
`quiet_piece_ms`, which encode faster (an encoder call has a fixed cost). The encoder's cost
per character is learned from the pieces it encodes, so the pieces keep their duration on any
machine and with any model.

Work that `encode` cannot carry (token embeddings: a ragged array per text, with the tokens'
strings and offsets) is given to `run` as a function of the encoder. The worker runs it alone,
after the waiting interactive requests and before the next piece of a large request, so the
encoder still serves one call at a time, on one thread, behind the same bounded queue.

The queue is bounded: beyond `max_queue` waiting requests a new one is refused with Overloaded
(429); an admitted request is never refused half-way.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np

from app.combining import Company
from app.errors import Overloaded, ServiceError
from app.models.encoder import Encoder, TokenEmbeddings

log = logging.getLogger(__name__)

T = TypeVar("T")
BatchObserver = Callable[[int, int], None]
"""Called after each encoder call with (texts in the call, texts still waiting)."""


class EncodeCost:
    """Milliseconds of encoder time per character, learned from what the encoder did.

    Each observation is a whole call (its fixed overhead included), so small pieces measure a
    little dearer per character and the pieces settle where they really take `piece_ms`."""

    def __init__(self, ms_per_char: float, learn: bool = True, smoothing: float = 0.3) -> None:
        self.ms_per_char = ms_per_char
        self.learn = learn
        self.smoothing = smoothing

    def estimate_ms(self, chars: int) -> float:
        return chars * self.ms_per_char

    def observe(self, chars: int, ms: float) -> None:
        if self.learn and chars > 0:
            seen = ms / chars
            self.ms_per_char += self.smoothing * (seen - self.ms_per_char)


@dataclass(eq=False)
class _Request:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: BaseException | None = None
    # Bulk requests only: the order their texts are encoded in, and how far the worker got.
    order: np.ndarray | None = None
    cursor: int = 0
    # Work requests only: the function the worker runs, and what it returned.
    work: Callable[[], Any] | None = None
    result: Any = None

    @property
    def remaining(self) -> int:
        return len(self.texts) - self.cursor


class EncodeBatcher:
    """A bounded two-level queue in front of one encode function, served by one thread."""

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray],
        *,
        max_batch: int = 64,
        max_wait_s: float = 0.03,
        max_queue: int = 256,
        piece_ms: float = 30.0,
        quiet_piece_ms: float = 200.0,
        quiet_after_s: float = 1.0,
        cost: EncodeCost | None = None,
        retry_after_s: int = 1,
        observer: BatchObserver | None = None,
        set_threads: Callable[[int], None] | None = None,
        bulk_threads: int = 0,
        query_threads: int = 0,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0 or min(piece_ms, quiet_piece_ms) <= 0:
            raise ValueError(
                "max_batch and max_queue must be >= 1, max_wait_s >= 0, piece_ms and "
                "quiet_piece_ms > 0"
            )
        self._encode = encode
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.piece_ms = piece_ms
        self.quiet_piece_ms = quiet_piece_ms
        self.quiet_after_s = quiet_after_s
        self._last_interactive = float("-inf")
        # A cautious first guess (a small model on a slow core); the first pieces correct it.
        self.cost = cost or EncodeCost(ms_per_char=0.1)
        self.retry_after_s = retry_after_s
        self._observer = observer
        self._set_threads = set_threads
        self.bulk_threads = bulk_threads
        self.query_threads = query_threads
        self._threads_now: int | None = None
        self._interactive: deque[_Request] = deque()
        self._bulk: deque[_Request] = deque()
        self._work: deque[_Request] = deque()
        self._waiting_texts = 0
        self._company = Company()  # interactive requests to expect in the next call
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
        request = _Request(list(texts))
        chars = sum(len(t) for t in texts)
        bulk = len(texts) > 1 and self.cost.estimate_ms(chars) > self.piece_ms
        if bulk:
            request.order = np.argsort([-len(t) for t in texts], kind="stable")
        self._admit(request, self._bulk if bulk else self._interactive)
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def run(self, work: Callable[[], T]) -> T:
        """Run `work` (a call of the encoder's model) on the worker thread, alone, after the
        waiting interactive requests and before the next piece of a large one. Blocks."""
        request = _Request([], work=work)
        self._admit(request, self._work)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return cast(T, request.result)

    def _admit(self, request: _Request, queue: deque[_Request]) -> None:
        with self._cond:
            if self._closed:
                raise ServiceError("the encoder is shutting down")
            waiting = len(self._interactive) + len(self._bulk) + len(self._work)
            if waiting >= self.max_queue:
                raise Overloaded(
                    f"encoder queue: {waiting} requests are waiting and max_encode_queue is "
                    f"{self.max_queue}; retry shortly",
                    retry_after_s=self.retry_after_s,
                )
            queue.append(request)
            if queue is self._interactive:
                self._company.arrived()
            self._waiting_texts += len(request.texts)
            self._cond.notify()

    # -- the worker ----------------------------------------------------------------------------
    def _take(self) -> tuple[list[_Request], list[str], slice | None] | None:
        """The next call: (requests served, texts to encode, the bulk piece's span or None).

        Interactive requests come first, gathered; then work requests, one at a time (no texts);
        otherwise the next piece of the oldest bulk request."""
        with self._cond:
            self._company.ended()
            while not self._interactive and not self._work and not self._bulk:
                if self._closed:
                    return None
                self._cond.wait()
            if not self._interactive and self._work:
                self._company.started(0)
                return [self._work.popleft()], [], None
            if self._interactive:
                self._last_interactive = time.monotonic()
                batch = self._gather(self._company.expected)
                texts = [t for request in batch for t in request.texts]
                span = None
            else:
                batch = [self._bulk[0]]
                span = self._next_piece(batch[0])
                assert batch[0].order is not None
                texts = [batch[0].texts[i] for i in batch[0].order[span]]
                batch[0].cursor = span.stop
                if batch[0].remaining == 0:
                    self._bulk.popleft()
            self._waiting_texts -= len(texts)
            self._company.started(len(batch) if span is None else 0)
            return batch, texts, span

    def _gather(self, expected: int) -> list[_Request]:
        """Interactive requests up to max_batch texts, waiting up to max_wait_s while fewer
        than `expected` have come. Called with the lock held."""
        batch: list[_Request] = []
        size = 0
        deadline = time.monotonic() + self.max_wait_s
        while True:
            while self._interactive and (
                size + len(self._interactive[0].texts) <= self.max_batch or not batch
            ):
                request = self._interactive.popleft()
                batch.append(request)
                size += len(request.texts)
            remaining = deadline - time.monotonic()
            full = size >= self.max_batch or bool(self._interactive)
            if full or len(batch) >= expected or remaining <= 0:
                return batch
            self._cond.wait(remaining)

    def _next_piece(self, request: _Request) -> slice:
        """The longest run of the request's next texts (in encoding order) that fits the piece
        budget, at least one text and at most max_batch. The budget is piece_ms while queries
        are coming (one came within quiet_after_s), else quiet_piece_ms: larger pieces encode
        faster, and no one is waiting behind them."""
        assert request.order is not None
        busy = time.monotonic() - self._last_interactive < self.quiet_after_s
        budget = self.piece_ms if busy else self.quiet_piece_ms
        start = stop = request.cursor
        chars = 0
        while stop < len(request.texts) and stop - start < self.max_batch:
            more = len(request.texts[request.order[stop]])
            if stop > start and self.cost.estimate_ms(chars + more) > budget:
                break
            chars += more
            stop += 1
        return slice(start, stop)

    def _serve(self) -> None:
        while (taken := self._take()) is not None:
            batch, texts, span = taken
            self._choose_threads(bulk=span is not None and not self._interactive)
            if batch[0].work is not None:
                self._run_work(batch[0])
                continue
            started = time.perf_counter()
            try:
                vectors = self._encode(texts)
            except BaseException as exc:  # every caller in the call gets the failure
                log.exception("encoder call of %d texts failed", len(texts))
                self._fail(batch, exc)
                continue
            if span is not None:
                self.cost.observe(sum(len(t) for t in texts), (time.perf_counter() - started) * 1e3)
                self._store_piece(batch[0], span, vectors)
            else:
                start = 0
                for request in batch:
                    request.vectors = vectors[start : start + len(request.texts)]
                    start += len(request.texts)
                    request.done.set()
            if self._observer is not None:
                self._observer(len(texts), self._waiting_texts)

    def _choose_threads(self, bulk: bool) -> None:
        """Pieces of large requests with no query waiting run on bulk_threads; calls that
        requests wait on run on query_threads. (A call spread over several threads pays for
        waking them at each of the model's many small operations, and stalls whenever another
        thread holds one of its cores.)"""
        if self._set_threads is None:
            return
        wanted = self.bulk_threads if bulk else self.query_threads
        if wanted != self._threads_now:
            self._set_threads(wanted)
            self._threads_now = wanted

    @staticmethod
    def _run_work(request: _Request) -> None:
        assert request.work is not None
        try:
            request.result = request.work()
        except BaseException as exc:  # the caller gets the failure; the worker goes on
            log.exception("encoder work failed")
            request.error = exc
        request.done.set()

    @staticmethod
    def _store_piece(request: _Request, span: slice, vectors: np.ndarray) -> None:
        assert request.order is not None
        if request.vectors is None:
            request.vectors = np.empty((len(request.texts), vectors.shape[1]), vectors.dtype)
        request.vectors[request.order[span]] = vectors
        if span.stop == len(request.texts):
            request.done.set()

    def _fail(self, batch: list[_Request], exc: BaseException) -> None:
        with self._cond:
            for request in batch:
                if request.order is not None and request.remaining:  # drop its other pieces
                    self._waiting_texts -= request.remaining
                    request.cursor = len(request.texts)
                    if request in self._bulk:
                        self._bulk.remove(request)
                request.error = exc
                request.done.set()

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

    def encode_tokens(
        self, texts: list[str], batch_size: int | None = None
    ) -> list[TokenEmbeddings]:
        """Run by the batcher's worker, which owns the model: between gathered calls, never
        beside one (the gathered calls cannot carry a ragged result per text)."""
        if not texts:
            return []
        inner = self._inner
        return self._batcher.run(lambda: inner.encode_tokens(texts, batch_size))

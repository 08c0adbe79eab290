"""Concurrent calls answered together: how much company to expect, and flat combining.

Each caller queues its item; when no call runs, it runs every queued item in one call, and the
callers that call served wake together to their answers. A batch costs about as much
as one item when the work is a scan (a FAISS search of several queries, one SQLite query for
all their hits), so concurrent callers stop queueing behind one another.

Callers that come back together from one encoder call arrive a few microseconds apart. When
the last call had company (the items it served plus those that arrived while it ran), the next
runner first waits up to `wait_s` for as many; a lone caller never waits.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Company:
    """How many callers to expect in the next call: those the last call served plus those that
    arrived while it ran. Clients answered together tend to come back together, and counting
    the latecomers lets two half-size groups that alternate merge into one call. Not locked:
    its owner calls it under its own lock."""

    def __init__(self) -> None:
        self._served = 0
        self._arrived = 0
        self._running = False

    @property
    def expected(self) -> int:
        return self._served + self._arrived

    def arrived(self) -> None:
        """A caller came; it counts only while a call runs."""
        self._arrived += self._running

    def started(self, served: int) -> None:
        """A call began, serving `served` callers (0 for work no caller gathers around)."""
        self._served, self._arrived, self._running = served, 0, True

    def ended(self) -> None:
        self._running = False


@dataclass(eq=False)
class _Pending(Generic[T, R]):
    item: T
    result: R | None = None
    error: BaseException | None = None
    done: bool = False


class Combiner(Generic[T, R]):
    """Calls `run(items) -> results` (one result per item, in order) for concurrent callers."""

    def __init__(self, run: Callable[[list[T]], list[R]], wait_s: float = 0.002) -> None:
        self._run = run
        self.wait_s = wait_s
        lock = threading.Lock()  # guards what follows
        self._arrived = threading.Condition(lock)  # the runner waits here for its company
        self._finished = threading.Condition(lock)  # the other callers wait here
        self._running = False
        self._pending: list[_Pending[T, R]] = []
        self._company = Company()

    @property
    def waiting(self) -> int:
        """Items queued and not yet taken into a call."""
        return len(self._pending)

    def __call__(self, item: T) -> R:
        mine: _Pending[T, R] = _Pending(item)
        with self._arrived:
            self._pending.append(mine)
            self._company.arrived()
            self._arrived.notify()
            # Callers a call served wake together when it ends, not one after another.
            while self._running and not mine.done:
                self._finished.wait()
            run = not mine.done
            self._running |= run
        if run:
            self._run_pending()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _run_pending(self) -> None:
        """Run what is queued, first waiting a little for the company the last call had.
        Called by the one caller that set _running."""
        batch: list[_Pending[T, R]] = []
        try:
            with self._arrived:
                deadline = time.monotonic() + self.wait_s
                while len(self._pending) < self._company.expected:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._arrived.wait(remaining)
                batch, self._pending = self._pending, []
                self._company.started(len(batch))
            results = self._run([p.item for p in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except Exception as exc:  # every caller in the batch raises it
            for p in batch:
                p.error, p.done = exc, True
        else:
            for p, result in zip(batch, results, strict=True):
                p.result, p.done = result, True
        finally:
            with self._arrived:
                self._company.ended()
                self._running = False
                self._finished.notify_all()

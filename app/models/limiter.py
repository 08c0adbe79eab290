"""Bounded concurrency for heavy models: a few run, a few wait, the rest get 429."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.errors import Overloaded


class ConcurrencyLimiter:
    """At most `concurrency` requests run at once and `queue` wait; beyond that, Overloaded."""

    def __init__(self, name: str, concurrency: int, queue: int, retry_after_s: int = 1) -> None:
        self.name = name
        self.concurrency = concurrency
        self.queue = queue
        self.retry_after_s = retry_after_s
        self._semaphore: asyncio.Semaphore | None = None
        self._admitted = 0

    @property
    def in_use(self) -> int:
        """Requests running or waiting."""
        return self._admitted

    def check(self) -> None:
        """Raise Overloaded if a new request would not be admitted now."""
        if self._admitted >= self.concurrency + self.queue:
            raise Overloaded(
                f"{self.name}: {self.concurrency} running and {self.queue} waiting is the limit; "
                "retry later",
                retry_after_s=self.retry_after_s,
            )

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the running places for the duration of the block."""
        self.check()
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        self._admitted += 1
        try:
            async with self._semaphore:
                yield
        finally:
            self._admitted -= 1

"""Server-Sent Events and cancellation for long-running model calls."""

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
_END = object()


def sse_event(data: Any) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n"


def sse_response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def iterate_in_thread(items: Iterator[T]) -> AsyncIterator[T]:
    """Drive a blocking iterator from a worker thread, one item at a time."""
    while True:
        item = await run_in_threadpool(next, items, _END)
        if item is _END:
            return
        yield item  # type: ignore[misc]


async def run_until_disconnect(
    request: Request, cancel: threading.Event, call: Callable[[], T], poll_s: float = 0.25
) -> T:
    """Run a blocking call in a worker thread; if the client goes away, set `cancel`."""
    task = asyncio.ensure_future(run_in_threadpool(call))
    while True:
        done, _ = await asyncio.wait({task}, timeout=poll_s)
        if done:
            return task.result()
        if await request.is_disconnected():
            cancel.set()

"""Running the decoder for a request: load it under its limiter, generate or stream, and
answer either as one JSON reply or as Server-Sent Events. /generate, /v1/chat/completions and
ask all answer through `reply`."""

import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.sse import iterate_in_thread, run_until_disconnect, sse_event, sse_response
from app.models.decoder import Decoder, GenerationParams, GenerationResult
from app.services import Services

T = TypeVar("T")


async def load_generator(services: Services) -> Decoder:
    model = services.registry.generator
    assert model.limiter is not None
    model.limiter.check()
    return await run_in_threadpool(model.get)


async def generate_text(
    services: Services, request: Request, decoder: Decoder, prompt: str, params: GenerationParams
) -> GenerationResult:
    """Generate under the generator's limiter; a client that goes away stops the generation."""
    limiter = services.registry.generator.limiter
    assert limiter is not None
    cancel = threading.Event()
    async with limiter.slot():
        return await run_until_disconnect(
            request, cancel, lambda: decoder.generate(prompt, params, cancel)
        )


async def stream_text(
    services: Services, decoder: Decoder, prompt: str, params: GenerationParams
) -> AsyncIterator[str | GenerationResult]:
    """Pieces of generated text, then the result; closing the stream stops the generation."""
    limiter = services.registry.generator.limiter
    assert limiter is not None
    cancel = threading.Event()
    try:
        async with limiter.slot():
            async for item in iterate_in_thread(decoder.stream(prompt, params, cancel)):
                yield item
    finally:
        cancel.set()


async def reply(
    services: Services,
    request: Request,
    decoder: Decoder,
    prompt: str,
    params: GenerationParams,
    *,
    stream: bool,
    answer: Callable[[GenerationResult], T],
    piece: Callable[[str], Any],
    last: Callable[[GenerationResult], Any],
    first: Iterable[Any] = (),
    end: Iterable[Any] = (),
) -> T | StreamingResponse:
    """Without `stream`, `answer(result)`. With it, an event stream: the `first` events, one
    `piece(text)` per piece generated, `last(result)`, then the `end` events."""
    if not stream:
        return answer(await generate_text(services, request, decoder, prompt, params))

    async def events() -> AsyncIterator[str]:
        for data in first:
            yield sse_event(data)
        async for item in stream_text(services, decoder, prompt, params):
            yield sse_event(piece(item) if isinstance(item, str) else last(item))
        for data in end:
            yield sse_event(data)

    return sse_response(events())

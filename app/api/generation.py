"""Text generation: /generate and the OpenAI-compatible /v1/chat/completions."""

import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import ServicesDep
from app.api.limits import check_generation
from app.api.responses import BAD_INPUT, OVERLOADED
from app.api.schemas import ChatRequest, GenerateRequest, GenerateResponse, Usage
from app.api.sse import iterate_in_thread, run_until_disconnect, sse_event, sse_response
from app.errors import BadInput
from app.models.decoder import Decoder, GenerationParams, GenerationResult
from app.services import Services

router = APIRouter(tags=["generation"])


async def load_generator(services: Services) -> Decoder:
    model = services.registry.generator
    assert model.limiter is not None
    model.limiter.check()
    return await run_in_threadpool(model.get)


def check_prompt(
    decoder: Decoder, prompt: str, max_new_tokens: int, services: Services, field: str
) -> None:
    """The prompt and the answer fit the limits and the model's context (400 otherwise)."""
    tokens = decoder.count_tokens(prompt)
    check_generation(tokens, max_new_tokens, decoder.max_context_tokens, services.settings, field)


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
    """Chunks of generated text, then the result; closing the stream stops the generation."""
    limiter = services.registry.generator.limiter
    assert limiter is not None
    cancel = threading.Event()
    try:
        async with limiter.slot():
            async for item in iterate_in_thread(decoder.stream(prompt, params, cancel)):
                yield item
    finally:
        cancel.set()


def _result(decoder: Decoder, result: GenerationResult) -> GenerateResponse:
    return GenerateResponse(
        text=result.text,
        model=decoder.name,
        usage=Usage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens),
        finish_reason=result.finish_reason,  # type: ignore[arg-type]
    )


@router.post(
    "/generate",
    response_model=GenerateResponse,
    responses={**BAD_INPUT, **OVERLOADED},
    summary="Continue a prompt with the decoder (optionally streamed as Server-Sent Events)",
)
async def generate(
    body: GenerateRequest, request: Request, services: ServicesDep
) -> GenerateResponse | StreamingResponse:
    decoder = await load_generator(services)
    check_prompt(decoder, body.prompt, body.max_new_tokens, services, "prompt")
    params = GenerationParams(
        body.max_new_tokens, body.temperature, body.top_p, body.stop, body.seed
    )
    if not body.stream:
        result = await generate_text(services, request, decoder, body.prompt, params)
        return _result(decoder, result)

    async def events() -> AsyncIterator[str]:
        async for item in stream_text(services, decoder, body.prompt, params):
            if isinstance(item, str):
                yield sse_event({"text": item})
            else:
                yield sse_event({"done": True, **_result(decoder, item).model_dump()})

    return sse_response(events())


def _chat_params(body: ChatRequest) -> GenerationParams:
    stop = [body.stop] if isinstance(body.stop, str) else body.stop
    if stop is not None and (len(stop) > 4 or any(not s for s in stop)):
        raise BadInput("stop: at most 4 non-empty strings")
    max_tokens = body.max_completion_tokens or body.max_tokens or 128
    return GenerationParams(max_tokens, body.temperature, body.top_p, stop, body.seed)


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses={**BAD_INPUT, **OVERLOADED},
    summary="OpenAI-compatible chat completions with the decoder's chat template",
)
async def chat_completions(
    body: ChatRequest, request: Request, services: ServicesDep
) -> dict[str, Any] | StreamingResponse:
    params = _chat_params(body)
    decoder = await load_generator(services)
    prompt = decoder.chat_prompt([m.model_dump() for m in body.messages])
    check_prompt(decoder, prompt, params.max_new_tokens, services, "messages")
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": decoder.name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def usage(result: GenerationResult) -> dict[str, int]:
        total = result.prompt_tokens + result.completion_tokens
        return {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": total,
        }

    if not body.stream:
        result = await generate_text(services, request, decoder, prompt, params)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": decoder.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.text},
                    "finish_reason": result.finish_reason,
                }
            ],
            "usage": usage(result),
        }

    async def events() -> AsyncIterator[str]:
        yield sse_event(chunk({"role": "assistant", "content": ""}, None))
        async for item in stream_text(services, decoder, prompt, params):
            if isinstance(item, str):
                yield sse_event(chunk({"content": item}, None))
            else:
                yield sse_event({**chunk({}, item.finish_reason), "usage": usage(item)})
        yield sse_event("[DONE]")

    return sse_response(events())

"""Text generation: /generate and the OpenAI-compatible /v1/chat/completions."""

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.api.deps import ServicesDep
from app.api.generating import load_generator, reply
from app.api.responses import BAD_INPUT, OVERLOADED
from app.api.schemas.common import Usage
from app.api.schemas.generation import ChatRequest, GenerateRequest, GenerateResponse
from app.api.scopes import needs
from app.limits import check_prompt
from app.models.decoder import GenerationParams, GenerationResult

router = APIRouter(tags=["generation"])

DEFAULT_CHAT_TOKENS = 128


@router.post(
    "/generate",
    response_model=GenerateResponse,
    responses={**BAD_INPUT, **OVERLOADED},
    summary="Continue a prompt with the decoder (optionally streamed as Server-Sent Events)",
    openapi_extra=needs("read", heavy=True),
)
async def generate(
    body: GenerateRequest, request: Request, services: ServicesDep
) -> GenerateResponse | StreamingResponse:
    decoder = await load_generator(services)
    check_prompt(decoder, body.prompt, body.max_new_tokens, services.settings, "prompt")
    params = GenerationParams(
        body.max_new_tokens, body.temperature, body.top_p, body.stop, body.seed
    )

    def answer(result: GenerationResult) -> GenerateResponse:
        return GenerateResponse(
            text=result.text,
            model=decoder.name,
            usage=Usage(
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens
            ),
            finish_reason=result.finish_reason,  # type: ignore[arg-type]
        )

    return await reply(
        services, request, decoder, body.prompt, params,
        stream=body.stream,
        answer=answer,
        piece=lambda text: {"text": text},
        last=lambda result: {"done": True, **answer(result).model_dump()},
    )  # fmt: skip


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses={**BAD_INPUT, **OVERLOADED},
    summary="OpenAI-compatible chat completions with the decoder's chat template",
    openapi_extra=needs("read", heavy=True),
)
async def chat_completions(
    body: ChatRequest, request: Request, services: ServicesDep
) -> dict[str, Any] | StreamingResponse:
    max_tokens = body.max_completion_tokens or body.max_tokens or DEFAULT_CHAT_TOKENS
    params = GenerationParams(max_tokens, body.temperature, body.top_p, body.stop, body.seed)  # type: ignore[arg-type]
    decoder = await load_generator(services)
    prompt = decoder.chat_prompt([m.model_dump() for m in body.messages])
    check_prompt(decoder, prompt, params.max_new_tokens, services.settings, "messages")
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

    def answer(result: GenerationResult) -> dict[str, Any]:
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

    return await reply(
        services, request, decoder, prompt, params,
        stream=body.stream,
        answer=answer,
        first=[chunk({"role": "assistant", "content": ""}, None)],
        piece=lambda text: chunk({"content": text}, None),
        last=lambda result: {**chunk({}, result.finish_reason), "usage": usage(result)},
        end=["[DONE]"],
    )  # fmt: skip

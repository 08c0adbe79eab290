"""Ask a collection: retrieve with the encoder, answer with the decoder, cite the sources."""

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import ServicesDep
from app.api.generation import check_prompt, generate_text, load_generator, stream_text
from app.api.limits import check_texts
from app.api.responses import BAD_INPUT, NOT_FOUND, OVERLOADED
from app.api.schemas import AskRequest, AskResponse, Source, Usage
from app.api.sse import sse_event, sse_response
from app.ask import Passage, fit_passages
from app.errors import BadInput
from app.models.decoder import GenerationParams, GenerationResult
from app.services import Services

router = APIRouter(prefix="/collections/{name}/ask", tags=["ask"])


def retrieve(services: Services, name: str, body: AskRequest) -> list[Passage]:
    collection = services.catalog.get(name)
    (hits,) = collection.search(collection.embed_queries([body.question]), body.k, body.filter)
    return [Passage(h.id, h.score, h.chunk_text) for h in hits]


@router.post(
    "",
    response_model=AskResponse,
    responses={**BAD_INPUT, **NOT_FOUND, **OVERLOADED},
    summary="Answer a question from the collection's documents, citing them",
)
async def ask(
    name: str, body: AskRequest, request: Request, services: ServicesDep
) -> AskResponse | StreamingResponse:
    settings = services.settings
    check_texts("question", [body.question], settings)
    passages = await run_in_threadpool(retrieve, services, name, body)
    decoder = await load_generator(services)
    budget = min(settings.max_prompt_tokens, decoder.max_context_tokens - body.max_new_tokens)
    check_prompt(decoder, body.question, body.max_new_tokens, services, "question")
    prompt, used = await run_in_threadpool(
        fit_passages, body.question, passages, decoder.chat_prompt, decoder.count_tokens, budget
    )
    if decoder.count_tokens(prompt) > budget:
        raise BadInput(f"question: too long to fit with any source in {budget} prompt tokens")
    sources = [Source(id=p.id, score=p.score, text=p.text) for p in used]
    params = GenerationParams(max_new_tokens=body.max_new_tokens)

    def answer(result: GenerationResult) -> AskResponse:
        return AskResponse(
            answer=result.text.strip(),
            sources=sources,
            model=decoder.name,
            usage=Usage(
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens
            ),
            finish_reason=result.finish_reason,  # type: ignore[arg-type]
        )

    if not body.stream:
        return answer(await generate_text(services, request, decoder, prompt, params))

    async def events() -> AsyncIterator[str]:
        yield sse_event({"sources": [s.model_dump() for s in sources]})
        async for item in stream_text(services, decoder, prompt, params):
            if isinstance(item, str):
                yield sse_event({"text": item})
            else:
                yield sse_event({"done": True, **answer(item).model_dump()})

    return sse_response(events())

"""Ask a collection: retrieve with the search pipeline, answer with the decoder, cite sources."""

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import ServicesDep
from app.api.generating import load_generator, reply
from app.api.responses import BAD_INPUT, NOT_FOUND, OVERLOADED
from app.api.schemas.ask import AskRequest, AskResponse, Source
from app.api.schemas.common import Usage
from app.api.scopes import needs
from app.ask import Passage, fit_passages
from app.errors import BadInput
from app.limits import check_prompt, check_texts
from app.models.decoder import GenerationParams, GenerationResult
from app.search import SearchSpec, run_search
from app.services import Services

router = APIRouter(prefix="/collections/{name}/ask", tags=["ask"])


def retrieve(services: Services, name: str, body: AskRequest) -> list[Passage]:
    spec = SearchSpec(
        query=body.question, k=body.k, filter=body.filter, mode=body.mode, rerank=body.rerank
    )
    (found,) = run_search(services, name, spec).found
    return [Passage(f.hit.id, f.hit.score, f.hit.chunk_text) for f in found]


@router.post(
    "",
    response_model=AskResponse,
    responses={**BAD_INPUT, **NOT_FOUND, **OVERLOADED},
    summary="Answer a question from the collection's documents, citing them",
    openapi_extra=needs("read", heavy=True),
)
async def ask(
    name: str, body: AskRequest, request: Request, services: ServicesDep
) -> AskResponse | StreamingResponse:
    settings = services.settings
    check_texts("question", [body.question], settings)
    passages = await run_in_threadpool(retrieve, services, name, body)
    decoder = await load_generator(services)
    budget = min(settings.max_prompt_tokens, decoder.max_context_tokens - body.max_new_tokens)
    check_prompt(decoder, body.question, body.max_new_tokens, settings, "question")
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

    return await reply(
        services, request, decoder, prompt, params,
        stream=body.stream,
        answer=answer,
        first=[{"sources": [s.model_dump() for s in sources]}],
        piece=lambda text: {"text": text},
        last=lambda result: {"done": True, **answer(result).model_dump()},
    )  # fmt: skip

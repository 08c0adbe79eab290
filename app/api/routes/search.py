"""Semantic search over a collection: POST for every option and batches, GET for curl."""

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.api.deps import ServicesDep
from app.api.errors import describe_validation_errors
from app.api.responses import BAD_INPUT, CONFLICT, NOT_FOUND, json_body, json_response
from app.api.schemas.search import (
    ChunkOut,
    HighlightOut,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from app.api.scopes import needs
from app.errors import BadInput
from app.search import Found, SearchSpec, run_search
from app.services import Services

router = APIRouter(prefix="/collections/{name}/search", tags=["search"])


def search_hit(found: Found) -> SearchHit:
    h = found.hit
    marks = found.highlights
    return SearchHit(
        id=h.id,
        score=h.score,
        text=h.text,
        metadata=h.metadata,
        chunk=ChunkOut(index=h.chunk_index, text=h.chunk_text),
        highlights=None
        if marks is None
        else [HighlightOut(text=x.text, start=x.start, end=x.end, score=x.score) for x in marks],
    )


def search_reply(services: Services, name: str, body: SearchRequest) -> Response:
    """Run the pipeline and serialise its reply once, on the worker thread."""
    result = run_search(services, name, SearchSpec(**dict(body)))
    results = [[search_hit(f) for f in ranked] for ranked in result.found]
    batch = body.queries is not None
    searched = result.searched if batch or result.searched is None else result.searched[0]
    return json_response(
        SearchResponse(
            results=results if batch else results[0],  # type: ignore[arg-type]
            took_ms=result.took_ms,
            searched=searched,
        )
    )


def parse_search(raw: bytes) -> SearchRequest:
    """The body validated straight from its JSON bytes, in one pass."""
    try:
        return SearchRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise BadInput(describe_validation_errors(list(exc.errors()))) from exc


@router.post(
    "",
    response_model=SearchResponse,
    responses={**BAD_INPUT, **NOT_FOUND, **CONFLICT},
    summary="Search with a query, a batch of queries or a vector",
    openapi_extra={**needs("read"), **json_body(SearchRequest)},
)
async def search(name: str, request: Request, services: ServicesDep) -> Response:
    """The most frequent request: its JSON body is read and validated in one pass, and the
    search and its reply's JSON are built on one worker thread."""
    body = parse_search(await request.body())
    return await run_in_threadpool(search_reply, services, name, body)


@router.get(
    "",
    response_model=SearchResponse,
    responses={**BAD_INPUT, **NOT_FOUND, **CONFLICT},
    summary="Search with one query (for curl)",
    openapi_extra=needs("read"),
)
def search_get(
    name: str,
    services: ServicesDep,
    q: Annotated[str, Query(description="Query text.")],
    k: Annotated[int, Query(ge=1, description="Number of documents (1 to the limit).")] = 10,
    filter: Annotated[str | None, Query(description="Metadata filter as JSON.")] = None,
    min_score: Annotated[float | None, Query(ge=-1, le=1, description="Drop hits below.")] = None,
    query_language: Annotated[
        str | None, Query(description="Language of q; translated when not the collection's.")
    ] = None,
    mode: Annotated[str, Query(description="dense, lexical or hybrid.")] = "dense",
    offset: Annotated[int, Query(ge=0, le=10_000, description="Skip this many documents.")] = 0,
    fusion: Annotated[str, Query(description="Hybrid fusion: convex or rrf.")] = "convex",
    alpha: Annotated[
        float | None, Query(ge=0, le=1, description="Dense weight of a convex hybrid fusion.")
    ] = None,
) -> Response:
    try:
        parsed = json.loads(filter) if filter is not None else None
    except json.JSONDecodeError as exc:
        raise BadInput(f"filter: not valid JSON ({exc.msg})") from exc
    try:
        body = SearchRequest(
            query=q, k=k, filter=parsed, min_score=min_score, query_language=query_language,
            mode=mode, offset=offset, fusion=fusion, alpha=alpha,
        )  # type: ignore[arg-type]  # fmt: skip
    except ValidationError as exc:
        raise BadInput(describe_validation_errors(list(exc.errors()))) from exc
    return search_reply(services, name, body)

"""Semantic search over a collection: POST for every option and batches, GET for curl."""

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.api.deps import ServicesDep, services_of
from app.api.direct_route import DirectRoute
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


async def search(name: str, request: Request) -> Response:
    """The most frequent request: its JSON body is read and validated in one pass, and the
    search and its reply's JSON are built on one worker thread."""
    body = parse_search(await request.body())
    return await run_in_threadpool(search_reply, services_of(request), name, body)


router.add_api_route(
    "",
    search,
    methods=["POST"],
    route_class_override=DirectRoute,
    response_model=SearchResponse,
    responses={**BAD_INPUT, **NOT_FOUND, **CONFLICT},
    summary="Search with a query, a batch of queries or a vector",
    openapi_extra={**needs("read"), **json_body(SearchRequest)},
)


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
        str | None,
        Query(
            pattern=r"^[a-z]{2,3}$",
            description="Language of q; translated when not the collection's.",
        ),
    ] = None,
    mode: Annotated[
        Literal["dense", "lexical", "hybrid"], Query(description="dense, lexical or hybrid.")
    ] = "dense",
    offset: Annotated[int, Query(ge=0, le=10_000, description="Skip this many documents.")] = 0,
    fusion: Annotated[
        Literal["convex", "rrf"], Query(description="Hybrid fusion: convex or rrf.")
    ] = "convex",
    alpha: Annotated[
        float | None,
        Query(
            ge=0,
            le=1,
            description="Dense weight of a convex hybrid fusion; ignored by other modes "
            "and fusions.",
        ),
    ] = None,
) -> Response:
    # Query parameters cannot state a rule between them, so alpha is dropped where it has
    # no meaning; the POST body states and enforces the rule.
    if mode != "hybrid" or fusion != "convex":
        alpha = None
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

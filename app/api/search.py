"""Semantic search over a collection."""

import json
import time
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Response
from pydantic import ValidationError

from app.api.deps import ServicesDep
from app.api.limits import check_count, check_k, check_texts
from app.api.responses import BAD_INPUT, CONFLICT, NOT_FOUND, json_response
from app.api.schemas import ChunkOut, SearchHit, SearchRequest, SearchResponse
from app.api.translation import translate_texts
from app.errors import BadInput, describe_validation_errors
from app.store.collection import Hit

router = APIRouter(prefix="/collections/{name}/search", tags=["search"])


def _hit(h: Hit) -> SearchHit:
    return SearchHit(
        id=h.id,
        score=h.score,
        text=h.text,
        metadata=h.metadata,
        chunk=ChunkOut(index=h.chunk_index, text=h.chunk_text),
    )


def run_search(name: str, body: SearchRequest, services: ServicesDep) -> SearchResponse:
    started = time.perf_counter()
    settings = services.settings
    check_k(body.k, settings)
    collection = services.catalog.get(name)
    searched: str | list[str] | None = None
    if body.vector is not None:
        vectors = np.asarray([body.vector], dtype=np.float32)
        collection.check_vectors(vectors)
        norm = float(np.linalg.norm(vectors))
        if not np.isfinite(norm) or norm == 0:
            raise BadInput("vector: must be finite and not all zeros")
        vectors /= norm
    else:
        texts = body.queries if body.queries is not None else [body.query or ""]
        field = "queries" if body.queries is not None else "query"
        check_count(field, len(texts), settings.max_queries)
        check_texts(field, texts, settings)
        language = collection.config.language
        if body.query_language and body.query_language != language:
            translator = services.registry.translator.get()
            texts = translate_texts(translator, texts, body.query_language, language)
            searched = texts if body.queries is not None else texts[0]
        vectors = collection.embed_queries(texts)
    found = collection.search(vectors, body.k, body.filter, body.min_score)
    results: list[Any] = [[_hit(h) for h in hits] for hits in found]
    took = (time.perf_counter() - started) * 1000
    return SearchResponse(
        results=results if body.queries is not None else results[0], took_ms=took, searched=searched
    )


@router.post(
    "",
    response_model=SearchResponse,
    responses={**BAD_INPUT, **NOT_FOUND, **CONFLICT},
    summary="Search with a query, a batch of queries or a vector",
)
def search(name: str, body: SearchRequest, services: ServicesDep) -> Response:
    return json_response(run_search(name, body, services))


@router.get(
    "",
    response_model=SearchResponse,
    responses={**BAD_INPUT, **NOT_FOUND, **CONFLICT},
    summary="Search with one query (for curl)",
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
) -> Response:
    try:
        parsed = json.loads(filter) if filter is not None else None
    except json.JSONDecodeError as exc:
        raise BadInput(f"filter: not valid JSON ({exc.msg})") from exc
    try:
        body = SearchRequest(
            query=q, k=k, filter=parsed, min_score=min_score, query_language=query_language
        )
    except ValidationError as exc:
        raise BadInput(describe_validation_errors(list(exc.errors()))) from exc
    return json_response(run_search(name, body, services))

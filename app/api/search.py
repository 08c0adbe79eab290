"""Semantic search over a collection."""

import json
import time
from dataclasses import replace
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Response
from pydantic import ValidationError

from app.api.deps import ServicesDep
from app.api.limits import check_count, check_k, check_texts
from app.api.responses import BAD_INPUT, CONFLICT, NOT_FOUND, json_response
from app.api.schemas import ChunkOut, HighlightOut, SearchHit, SearchRequest, SearchResponse
from app.api.translation import translate_texts
from app.errors import BadInput, describe_validation_errors
from app.highlights import Highlight, best_sentences
from app.services import Services
from app.store.collection import Collection, Hit

router = APIRouter(prefix="/collections/{name}/search", tags=["search"])


def _hit(h: Hit, highlights: list[Highlight] | None) -> SearchHit:
    return SearchHit(
        id=h.id,
        score=h.score,
        text=h.text,
        metadata=h.metadata,
        chunk=ChunkOut(index=h.chunk_index, text=h.chunk_text),
        highlights=None
        if highlights is None
        else [
            HighlightOut(text=x.text, start=x.start, end=x.end, score=x.score) for x in highlights
        ],
    )


def _highlights(
    services: Services, vectors: np.ndarray, found: list[list[Hit]]
) -> list[list[list[Highlight]]]:
    encode = services.encoder.encode
    return [
        best_sentences(
            vector, [(h.chunk_text, h.chunk_start) for h in hits], encode, [h.text for h in hits]
        )  # fmt: skip
        for vector, hits in zip(vectors, found, strict=True)
    ]


def _reranked(
    services: Services,
    collection: Collection,
    body: SearchRequest,
    vectors: np.ndarray | None,
    texts: list[str] | None,
) -> list[list[Hit]]:
    """The top candidates of the chosen mode, re-scored by the cross-encoder, then paged."""
    model = services.registry.reranker
    if model is None:
        raise BadInput("rerank: no reranker is configured (set SEMSEARCH_RERANKER)")
    if texts is None:
        raise BadInput("rerank: needs query text, not a vector")
    depth = max(body.k + body.offset, services.settings.rerank_depth)
    found = collection.search(vectors, depth, body.filter, None, texts=texts, mode=body.mode)
    reranker = model.get()
    out = []
    for text, hits in zip(texts, found, strict=True):
        scores = reranker.score(text, [h.chunk_text for h in hits])
        ranked = sorted(
            (replace(h, score=s) for h, s in zip(hits, scores, strict=True)),
            key=lambda h: -h.score,
        )
        if body.min_score is not None:
            ranked = [h for h in ranked if h.score >= body.min_score]
        out.append(ranked[body.offset : body.offset + body.k])
    return out


def run_search(name: str, body: SearchRequest, services: ServicesDep) -> SearchResponse:
    started = time.perf_counter()
    settings = services.settings
    check_k(body.k, settings)
    collection = services.catalog.get(name)
    searched: str | list[str] | None = None
    texts: list[str] | None = None
    vectors: np.ndarray | None = None
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
        if body.mode != "lexical" or body.highlights:
            vectors = collection.embed_queries(texts)
    if body.rerank:
        found = _reranked(services, collection, body, vectors, texts)
    else:
        found = collection.search(
            vectors, body.k, body.filter, body.min_score, texts=texts, mode=body.mode,
            offset=body.offset,
        )  # fmt: skip
    marks = (
        _highlights(services, vectors, found) if body.highlights and vectors is not None else None
    )
    results: list[Any] = [
        [_hit(h, marks[q][i] if marks else None) for i, h in enumerate(hits)]
        for q, hits in enumerate(found)
    ]
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
    mode: Annotated[str, Query(description="dense, lexical or hybrid.")] = "dense",
    offset: Annotated[int, Query(ge=0, le=10_000, description="Skip this many documents.")] = 0,
) -> Response:
    try:
        parsed = json.loads(filter) if filter is not None else None
    except json.JSONDecodeError as exc:
        raise BadInput(f"filter: not valid JSON ({exc.msg})") from exc
    try:
        body = SearchRequest(
            query=q, k=k, filter=parsed, min_score=min_score, query_language=query_language,
            mode=mode, offset=offset,
        )  # type: ignore[arg-type]  # fmt: skip
    except ValidationError as exc:
        raise BadInput(describe_validation_errors(list(exc.errors()))) from exc
    return json_response(run_search(name, body, services))

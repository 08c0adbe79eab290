"""A 2D map of a collection's embeddings, for the web page."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT, CONFLICT, NOT_FOUND
from app.api.schemas.maps import MapPointOut, MapResponse, QueryPoint
from app.api.scopes import needs
from app.errors import BadInput
from app.maps import DEFAULT_MAP_POINTS, MAX_MAP_POINTS, TEXT_CHARS, embedding_map

router = APIRouter(prefix="/collections/{name}/map", tags=["map"])


@router.get(
    "",
    response_model=MapResponse,
    responses={**BAD_INPUT, **NOT_FOUND, **CONFLICT},
    summary="Chunks of a collection on a plane: the two principal components of their vectors",
    openapi_extra=needs("read"),
)
def collection_map(
    name: str,
    services: ServicesDep,
    limit: Annotated[
        int,
        Query(
            ge=1,
            description=f"Most chunks to place, spread evenly over the collection (1-"
            f"{MAX_MAP_POINTS}).",
            json_schema_extra={"maximum": MAX_MAP_POINTS},
        ),
    ] = DEFAULT_MAP_POINTS,
    color: Annotated[
        str | None, Query(max_length=256, description="Metadata field each point carries.")
    ] = None,
    q: Annotated[str | None, Query(description="A query to place on the same plane.")] = None,
) -> MapResponse:
    if limit > MAX_MAP_POINTS:
        raise BadInput(f"limit: {limit} is over the limit of {MAX_MAP_POINTS}")
    if q is not None:
        if not q.strip():
            raise BadInput("q: must not be empty or only whitespace")
        if len(q) > services.settings.max_text_chars:
            raise BadInput(
                f"q: {len(q)} characters is over the limit of {services.settings.max_text_chars}"
            )
    found = embedding_map(services.catalog.get(name), limit, color or None, q)
    qx, qy = found.query or (0.0, 0.0)
    return MapResponse(
        points=[
            MapPointOut(
                id=p.hit.id,
                chunk=p.hit.chunk_index,
                x=p.x,
                y=p.y,
                text=p.hit.chunk_text[:TEXT_CHARS],
                value=p.value,
            )
            for p in found.points
        ],
        query=None if found.query is None or q is None else QueryPoint(text=q, x=qx, y=qy),
        color=color or None,
        fields=found.fields,
        chunks=found.chunks,
        explained=list(found.explained),
    )

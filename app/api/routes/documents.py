"""Documents of a collection: ingest (upsert), get, page, count, delete (one, by ids or by
filter) and patch metadata."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT, CONFLICT, NOT_FOUND
from app.api.schemas.documents import (
    FILTER_DESCRIPTION,
    CountRequest,
    CountResponse,
    DeleteRequest,
    DeleteResponse,
    Document,
    DocumentPage,
    IngestRequest,
    IngestResponse,
    MetadataPatch,
)
from app.api.scopes import needs
from app.errors import BadInput, NotFound
from app.limits import check_count, check_texts
from app.store.interface import NewDocument

router = APIRouter(prefix="/collections/{name}/documents", tags=["documents"])


@router.post(
    "",
    response_model=IngestResponse,
    responses={**BAD_INPUT, **CONFLICT},
    summary="Add or replace documents (creates the collection if needed)",
    openapi_extra=needs("write"),
)
def ingest(name: str, body: IngestRequest, services: ServicesDep) -> IngestResponse:
    settings = services.settings
    check_count("documents", len(body.documents), settings.max_batch_documents)
    check_texts("documents", [d.text for d in body.documents], settings)
    collection = services.catalog.get_or_create(name)
    docs = [NewDocument(d.text, d.id, d.metadata) for d in body.documents]
    ids = collection.upsert(
        docs, settings.chunk_tokens, settings.chunk_overlap, replace_source=body.replace_source
    )
    return IngestResponse(ids=ids)


@router.get(
    "",
    response_model=DocumentPage,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Page through documents in insertion order",
    openapi_extra=needs("read"),
)
def page_documents(
    name: str,
    services: ServicesDep,
    limit: Annotated[
        int | None, Query(ge=1, description="Page size: default 100, at most the limit (1000).")
    ] = None,
    after: Annotated[
        str | None, Query(description="Cursor from the previous page's `next`.")
    ] = None,
    filter: Annotated[
        str | None, Query(description=FILTER_DESCRIPTION + " As JSON; only matching documents.")
    ] = None,
) -> DocumentPage:
    if limit is None:
        limit = min(100, services.settings.max_page_size)
    if limit > services.settings.max_page_size:
        raise BadInput(f"limit: {limit} is over the limit of {services.settings.max_page_size}")
    if after is not None and not after.isdigit():
        raise BadInput(f"after: {after!r} is not a cursor returned by this endpoint")
    filter_ = filter_param(filter)
    collection = services.catalog.get(name)
    rows = collection.page(limit + 1, int(after or 0), filter_)
    more = len(rows) > limit
    rows = rows[:limit]
    return DocumentPage(
        documents=[Document(id=r.id, text=r.text, metadata=r.metadata) for r in rows],
        next=str(rows[-1].num) if more and rows else None,
    )


def filter_param(raw: str | None) -> dict[str, Any] | None:
    """The `filter` query parameter: a JSON object, or None when absent."""
    if raw is None:
        return None
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInput(f"filter: not valid JSON ({exc.msg})") from exc
    if not isinstance(parsed, dict):
        raise BadInput('filter: must be a JSON object of field conditions, e.g. {"lang": "en"}')
    return parsed


@router.post(
    "/count",
    response_model=CountResponse,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Count the documents, or those matching a metadata filter",
    openapi_extra=needs("read"),
)
def count_documents(
    name: str, services: ServicesDep, body: CountRequest | None = None
) -> CountResponse:
    collection = services.catalog.get(name)
    return CountResponse(count=collection.count_matching(body.filter if body else None))


@router.post(
    "/delete",
    response_model=DeleteResponse,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Delete documents by ids or by metadata filter, in one transaction",
    openapi_extra=needs("write"),
)
def delete_documents(name: str, body: DeleteRequest, services: ServicesDep) -> DeleteResponse:
    collection = services.catalog.get(name)
    if body.ids is not None:
        return DeleteResponse(deleted=collection.delete(list(dict.fromkeys(body.ids))))
    assert body.filter is not None
    return DeleteResponse(deleted=collection.delete_matching(body.filter))


@router.patch(
    "/{doc_id:path}",
    response_model=Document,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Change a document's metadata (JSON merge patch); it is not embedded again",
    openapi_extra=needs("write"),
)
def patch_document(name: str, doc_id: str, body: MetadataPatch, services: ServicesDep) -> Document:
    doc = services.catalog.get(name).patch_metadata(doc_id, body.metadata)
    if doc is None:
        raise NotFound(f"document {doc_id!r} does not exist in collection {name!r}")
    return Document(id=doc.id, text=doc.text, metadata=doc.metadata)


@router.get(
    "/{doc_id:path}",
    response_model=Document,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Get one document",
    openapi_extra=needs("read"),
)
def get_document(name: str, doc_id: str, services: ServicesDep) -> Document:
    doc = services.catalog.get(name).get(doc_id)
    if doc is None:
        raise NotFound(f"document {doc_id!r} does not exist in collection {name!r}")
    return Document(id=doc.id, text=doc.text, metadata=doc.metadata)


@router.delete(
    "/{doc_id:path}",
    status_code=204,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Delete one document",
    openapi_extra=needs("write"),
)
def delete_document(name: str, doc_id: str, services: ServicesDep) -> Response:
    if services.catalog.get(name).delete([doc_id]) == 0:
        raise NotFound(f"document {doc_id!r} does not exist in collection {name!r}")
    return Response(status_code=204)

"""Collections: create, list, describe, delete."""

from fastapi import APIRouter, Response

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT, CONFLICT, NOT_FOUND
from app.api.schemas.collections import CollectionInfo, CollectionList, CreateCollection
from app.api.scopes import needs
from app.store.interface import CollectionStore, IndexDefaults

router = APIRouter(prefix="/collections", tags=["collections"])


def describe(collection: CollectionStore) -> CollectionInfo:
    config = collection.config
    mismatch = collection.encoder_mismatch
    return CollectionInfo(
        name=config.name,
        model=config.model,
        dimension=config.dimension,
        normalized=config.normalized,
        index=config.index,
        index_options=config.index_options,
        index_in_use=collection.index_in_use,
        index_building=collection.index_building,
        language=config.language,
        **collection.counts(),
        status="encoder_mismatch" if mismatch else "ready",
        detail=mismatch,
    )


@router.post(
    "",
    status_code=201,
    response_model=CollectionInfo,
    responses={**BAD_INPUT, **CONFLICT},
    summary="Create a collection",
    openapi_extra=needs("write"),
)
def create_collection(body: CreateCollection, services: ServicesDep) -> CollectionInfo:
    settings = services.settings
    defaults = IndexDefaults(settings.index_auto_threshold, settings.index_compact_fraction)
    return describe(
        services.catalog.create(
            body.name, body.model, body.index, body.language, body.index_options, defaults
        )
    )


@router.get(
    "",
    response_model=CollectionList,
    responses=BAD_INPUT,
    summary="List collections",
    openapi_extra=needs("read"),
)
def list_collections(services: ServicesDep) -> CollectionList:
    catalog = services.catalog
    return CollectionList(collections=[describe(catalog.get(n)) for n in catalog.names()])


@router.get(
    "/{name}",
    response_model=CollectionInfo,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Describe a collection",
    openapi_extra=needs("read"),
)
def get_collection(name: str, services: ServicesDep) -> CollectionInfo:
    return describe(services.catalog.get(name))


@router.delete(
    "/{name}",
    status_code=204,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Delete a collection and all its documents",
    openapi_extra=needs("write"),
)
def delete_collection(name: str, services: ServicesDep) -> Response:
    services.catalog.delete(name)
    return Response(status_code=204)

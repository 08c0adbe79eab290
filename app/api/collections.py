"""Collections: create, list, describe, delete."""

from fastapi import APIRouter, Response

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT, CONFLICT, NOT_FOUND
from app.api.schemas import CollectionInfo, CollectionList, CreateCollection
from app.store.collection import Collection

router = APIRouter(prefix="/collections", tags=["collections"])


def describe(collection: Collection) -> CollectionInfo:
    config = collection.config
    mismatch = collection.encoder_mismatch
    return CollectionInfo(
        name=config.name,
        model=config.model,
        dimension=config.dimension,
        normalized=config.normalized,
        index=config.index,
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
)
def create_collection(body: CreateCollection, services: ServicesDep) -> CollectionInfo:
    return describe(services.catalog.create(body.name, body.model, body.index, body.language))


@router.get("", response_model=CollectionList, responses=BAD_INPUT, summary="List collections")
def list_collections(services: ServicesDep) -> CollectionList:
    catalog = services.catalog
    return CollectionList(collections=[describe(catalog.get(n)) for n in catalog.names()])


@router.get(
    "/{name}",
    response_model=CollectionInfo,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Describe a collection",
)
def get_collection(name: str, services: ServicesDep) -> CollectionInfo:
    return describe(services.catalog.get(name))


@router.delete(
    "/{name}",
    status_code=204,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="Delete a collection and all its documents",
)
def delete_collection(name: str, services: ServicesDep) -> Response:
    services.catalog.delete(name)
    return Response(status_code=204)

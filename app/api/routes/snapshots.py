"""Snapshots of embedded collections: take one, list a collection's, list them all."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT, CONFLICT, NOT_FOUND
from app.api.schemas.collections import SnapshotInfo, SnapshotList
from app.api.scopes import needs
from app.config import Settings
from app.errors import Conflict
from app.store.catalog import validate_name
from app.store.embedded.backup import Snapshot, list_snapshots, snapshot_root, write_snapshot
from app.store.embedded.collection import Collection

router = APIRouter(tags=["snapshots"])


def snapshot_info(snapshot: Snapshot) -> SnapshotInfo:
    m = snapshot.manifest
    return SnapshotInfo(
        path=str(snapshot.path.resolve()),
        collection=m.collection,
        documents=m.documents,
        chunks=m.chunks,
        seq=m.seq,
        created=m.created,
    )


def snapshots(settings: Settings, collection: str | None) -> SnapshotList:
    root = snapshot_root(settings.snapshot_dir, settings.data_dir)
    return SnapshotList(snapshots=[snapshot_info(s) for s in list_snapshots(root, collection)])


@router.post(
    "/collections/{name}/snapshot",
    status_code=201,
    response_model=SnapshotInfo,
    responses={**BAD_INPUT, **NOT_FOUND, **CONFLICT},
    summary="Write a consistent snapshot of a collection to a new folder (embedded backend)",
    openapi_extra=needs("admin"),
)
def snapshot_collection(name: str, services: ServicesDep) -> SnapshotInfo:
    collection = services.catalog.get(name)
    if not isinstance(collection, Collection):
        raise Conflict(
            f"snapshot: collection {name!r} lives in PostgreSQL; back it up with the "
            "database's own tools (pg_dump, or continuous archiving for point-in-time "
            "recovery): see docs/operations.md"
        )
    settings = services.settings
    root = snapshot_root(settings.snapshot_dir, settings.data_dir)
    return snapshot_info(write_snapshot(collection, root))


@router.get(
    "/collections/{name}/snapshots",
    response_model=SnapshotList,
    responses={**BAD_INPUT, **NOT_FOUND},
    summary="List the snapshots of a collection",
    openapi_extra=needs("admin"),
)
def list_collection_snapshots(name: str, services: ServicesDep) -> SnapshotList:
    services.catalog.get(name)  # 404 once deleted: its snapshots stay listed under /snapshots
    return snapshots(services.settings, name)


@router.get(
    "/snapshots",
    response_model=SnapshotList,
    responses=BAD_INPUT,
    summary="List every snapshot, also of collections since deleted",
    openapi_extra=needs("admin"),
)
def list_all_snapshots(
    services: ServicesDep,
    collection: Annotated[
        str | None, Query(description="Only the snapshots of this collection.")
    ] = None,
) -> SnapshotList:
    if collection is not None:
        validate_name(collection)
    return snapshots(services.settings, collection)

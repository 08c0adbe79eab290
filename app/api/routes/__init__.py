"""One router per resource; each route declares its key scope where it is declared."""

from fastapi import APIRouter

from app.api.routes import (
    ask,
    collections,
    documents,
    embeddings,
    files,
    generation,
    health,
    maps,
    metrics,
    model_status,
    search,
    snapshots,
    translation,
    ui,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    metrics.router,
    collections.router,
    snapshots.router,
    documents.router,
    files.router,
    search.router,
    maps.router,
    ask.router,
    embeddings.router,
    model_status.router,
    generation.router,
    translation.router,
    ui.router,
)

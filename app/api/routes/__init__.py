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
    search.router,
    health.router,
    metrics.router,
    collections.router,
    snapshots.router,
    documents.router,
    files.router,
    maps.router,
    ask.router,
    embeddings.router,
    model_status.router,
    generation.router,
    translation.router,
    ui.router,
)
"""In the order requests are matched: each router passed costs every request a scan of its
routes (here and in the key check's RouteTable), so search, the most frequent request, is first.
No two routers serve the same path."""

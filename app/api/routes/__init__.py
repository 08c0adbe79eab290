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
    metrics,
    model_status,
    search,
    translation,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    metrics.router,
    collections.router,
    documents.router,
    files.router,
    search.router,
    ask.router,
    embeddings.router,
    model_status.router,
    generation.router,
    translation.router,
)

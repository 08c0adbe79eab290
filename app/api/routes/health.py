"""Liveness and readiness."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep
from app.api.errors import error_body
from app.api.schemas.common import ErrorResponse
from app.api.schemas.health import HealthResponse
from app.api.scopes import OPEN, needs

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="The process is alive",
    openapi_extra=needs(OPEN),
)
async def health() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get(
    "/ready",
    response_model=HealthResponse,
    responses={
        503: {
            "model": ErrorResponse,
            "description": "Still loading, start-up failed, or the database cannot be reached.",
        }
    },
    summary="The encoder is loaded, every collection is open and the database answers",
    openapi_extra=needs(OPEN),
)
async def ready(services: ServicesDep) -> HealthResponse | JSONResponse:
    if services.ready:
        return HealthResponse(status="ready")
    reason = services.not_ready_reason or "loading the encoder and opening collections"
    return JSONResponse(
        error_body("not_ready", reason), status_code=503, headers={"Retry-After": "1"}
    )

"""Liveness and readiness replies."""

from pydantic import BaseModel, Field


class HealthResponse(BaseModel):
    status: str = Field(description="'ok' while the process lives; 'ready' once it serves.")

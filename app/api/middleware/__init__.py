"""The middleware around every request, in one place and one order."""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api.middleware.body_limit import BodyLimitMiddleware
from app.api.middleware.keys import ApiKeys, AuthMiddleware
from app.api.middleware.rate_limit import RateLimitMiddleware
from app.api.middleware.request_log import RequestLogMiddleware
from app.api.middleware.request_timeout import RequestTimeoutMiddleware
from app.api.scopes import RouteTable
from app.config import Settings
from app.metrics import AppMetrics


def cors_origins(settings: Settings) -> list[str]:
    return [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]


def install_middleware(
    app: FastAPI, settings: Settings, keys: ApiKeys, metrics: AppMetrics, routes: RouteTable
) -> None:
    """A request meets, in order: the request log (id, log line, metrics), CORS when enabled,
    the key check, the rate limits, the time limit and the body limit. Each add_middleware
    wraps what was added before it, so they are added innermost first."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestTimeoutMiddleware, timeout_s=settings.request_timeout_s)
    app.add_middleware(
        RateLimitMiddleware,
        routes=routes,
        rps=settings.rate_limit_rps,
        burst=settings.rate_limit_burst,
        max_heavy=settings.max_heavy_per_key,
    )
    app.add_middleware(AuthMiddleware, keys=keys, routes=routes)
    origins = cors_origins(settings)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestLogMiddleware, metrics=metrics)

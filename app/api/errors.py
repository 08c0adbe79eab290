"""The one mapping from errors to JSON HTTP replies: `{"error": {"code", "message"}}`.

Exception handlers (domain errors, validation errors, unknown routes, anything unexpected) and
the middleware that answers before routing (keys, rate limits, body and time limits) all build
their replies here.
"""

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from app.errors import (
    BadInput,
    Conflict,
    DatabaseUnavailable,
    ModelUnavailable,
    NotFound,
    NotReady,
    Overloaded,
    PayloadTooLarge,
    ServiceError,
)

STATUS: dict[type[ServiceError], int] = {
    BadInput: 400,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    Overloaded: 429,
    NotReady: 503,
    ModelUnavailable: 503,
    DatabaseUnavailable: 503,
}


def status_of(exc: ServiceError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]  # type: ignore[index]
    return 500


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def retry_headers(exc: ServiceError) -> dict[str, str] | None:
    if exc.retry_after_s is None:
        return None
    return {"Retry-After": str(max(1, round(exc.retry_after_s)))}


def error_response(exc: ServiceError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.message), status_code=status_of(exc), headers=retry_headers(exc)
    )


async def send_json_error(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """Answer from ASGI middleware, before any route runs."""
    body = json.dumps(error_body(code, message)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_service_error(send: Send, exc: ServiceError) -> None:
    await send_json_error(send, status_of(exc), exc.code, exc.message, retry_headers(exc))


def _location(loc: tuple[Any, ...]) -> str:
    """`("body", "documents", 0, "text")` -> `documents.0.text`; the first part says where."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def describe_validation_errors(errors: list[Any]) -> str:
    """One readable sentence per pydantic error, each naming the field."""
    messages = []
    for err in errors[:10]:
        field = _location(tuple(err.get("loc", ())))
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            messages.append(f"body: malformed JSON ({ctx.get('error', 'cannot parse')})")
            continue
        messages.append(f"{field}: {err.get('msg', 'invalid value')}")
    return "; ".join(messages)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to `{"error": {"code", "message"}}` with a 4xx/5xx status."""

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body("invalid_request", describe_validation_errors(list(exc.errors()))),
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        message = str(exc.detail)
        if exc.status_code == 405:
            # Every method of the path, not only those of the first route that matched it.
            allowed = sorted(request.app.state.routes.methods_for(request.url.path))
            headers["Allow"] = ", ".join(allowed)
            message = f"method: {request.method} is not allowed here; allowed: {', '.join(allowed)}"
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("internal_error", f"{type(exc).__name__}: {exc}"), status_code=500
        )

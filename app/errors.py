"""Domain errors and their single mapping to HTTP responses."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ServiceError(Exception):
    """Base class: every error the service reports carries an HTTP status and a code."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class BadInput(ServiceError):
    status = 400
    code = "invalid_request"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class Overloaded(ServiceError):
    status = 429
    code = "overloaded"


class NotReady(ServiceError):
    status = 503
    code = "not_ready"


class ModelUnavailable(ServiceError):
    """A generation or translation model that could not be loaded."""

    status = 503
    code = "model_unavailable"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


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
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body("invalid_request", describe_validation_errors(list(exc.errors()))),
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("internal_error", f"{type(exc).__name__}: {exc}"), status_code=500
        )

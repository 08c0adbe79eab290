"""OpenAPI descriptions of the error replies routers share."""

from typing import Any

from app.api.schemas import ErrorResponse

BAD_INPUT: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "Bad input: the message names the field and limit.",
    },
    413: {"model": ErrorResponse, "description": "Request body over the size limit."},
    503: {"model": ErrorResponse, "description": "The service is still loading."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such collection or document."}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "Exists already, or built with another encoder."}
}

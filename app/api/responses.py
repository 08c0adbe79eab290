"""OpenAPI descriptions of the error replies routers share."""

from typing import Any

from fastapi import Response
from pydantic import BaseModel

from app.api.schemas.common import ErrorResponse

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
OVERLOADED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "Too many requests in flight; see Retry-After."},
    503: {"model": ErrorResponse, "description": "The model failed to load, or still loading."},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "Exists already, or built with another encoder."}
}


def json_response(model: BaseModel) -> Response:
    """Serialize a response model once, for hot paths: returned as a model, FastAPI would
    dump and validate it again against the route's response_model."""
    return Response(model.model_dump_json(), media_type="application/json")


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads and validates its JSON itself."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

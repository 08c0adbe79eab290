"""The OpenAPI description with the bearer security scheme and each route's scope."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.scopes import HEAVY_FIELD, OPEN, SCOPE_FIELD, UNDECLARED

SCHEME = "bearerAuth"
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
ACCESS_RESPONSES = {
    "401": "No API key, or an unknown one (keys configured).",
    "403": "The key lacks the scope this route needs.",
    "408": "No response within the request time limit.",
    "429": "Over a rate limit; see Retry-After.",
}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def add_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the bearer scheme and, on each operation, the scope it needs."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from SEMSEARCH_API_KEYS or SEMSEARCH_API_KEYS_FILE; "
        "needed only when keys are configured.",
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            needed = operation.get(SCOPE_FIELD, UNDECLARED)
            operation.pop(HEAVY_FIELD, None)
            if needed == OPEN:
                operation["security"] = []
                continue
            operation["security"] = [{SCHEME: []}]
            note = f"Needs an API key of scope `{needed}` or above when keys are configured."
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
            responses = operation.setdefault("responses", {})
            for status, description in ACCESS_RESPONSES.items():
                responses.setdefault(status, _error_response(description))
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = add_security(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

"""The OpenAPI description with the bearer security scheme and each route's scope."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.schemas.common import NON_BLANK, filter_schema
from app.api.scopes import HEAVY_FIELD, OPEN, SCOPE_FIELD, UNDECLARED
from app.config import Settings
from app.store.interface import NAME_PATTERN

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


def add_security(schema: dict[str, Any], keys_configured: bool) -> dict[str, Any]:
    """With keys configured, declare the bearer scheme and, on each operation, the scope it
    needs; without keys, no operation asks for one."""
    if not keys_configured:
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.pop(HEAVY_FIELD, None)
        return schema
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


# The limits that settings set, stated in the schema: (model, property, keyword, setting).
# "items" reaches into a list's items; a property that is missing is passed over.
SETTING_LIMITS: tuple[tuple[str, str, str, str], ...] = (
    ("SearchRequest", "k", "maximum", "max_k"),
    ("SearchRequest", "query", "maxLength", "max_text_chars"),
    ("SearchRequest", "queries", "maxItems", "max_queries"),
    ("SearchRequest", "queries.items", "maxLength", "max_text_chars"),
    ("IngestRequest", "documents", "maxItems", "max_batch_documents"),
    ("DocumentIn", "text", "maxLength", "max_text_chars"),
    ("EmbedRequest", "texts", "maxItems", "max_embed_texts"),
    ("EmbedRequest", "texts.items", "maxLength", "max_text_chars"),
    ("TranslateRequest", "text", "maxLength", "max_translate_chars"),
    ("TranslateRequest", "texts", "maxItems", "max_translate_texts"),
    ("TranslateRequest", "texts.items", "maxLength", "max_translate_chars"),
    ("GenerateRequest", "max_new_tokens", "maximum", "max_new_tokens"),
    ("AskRequest", "max_new_tokens", "maximum", "max_new_tokens"),
    ("AskRequest", "question", "maxLength", "max_text_chars"),
    ("ChatRequest", "max_tokens", "maximum", "max_new_tokens"),
    ("ChatRequest", "max_completion_tokens", "maximum", "max_new_tokens"),
)
# Query parameters: (path, parameter, keyword, setting).
SETTING_PARAMETERS: tuple[tuple[str, str, str, str], ...] = (
    ("/collections/{name}/search", "k", "maximum", "max_k"),
    ("/collections/{name}/search", "q", "maxLength", "max_text_chars"),
    ("/collections/{name}/documents", "limit", "maximum", "max_page_size"),
)


def parameter_shapes() -> dict[tuple[str, str], dict[str, Any]]:
    """What the API checks of a parameter, by (where, name), stated in its schema."""
    name = {"pattern": f"^{NAME_PATTERN.pattern}$"}
    return {
        ("path", "name"): name,
        ("query", "collection"): name,
        ("query", "after"): {"pattern": "^[0-9]+$"},
        ("query", "q"): NON_BLANK,
    }


def add_parameter_shapes(schema: dict[str, Any]) -> dict[str, Any]:
    """State each parameter's checks; a `filter` parameter is JSON text, declared as such."""
    shapes = parameter_shapes()
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"] == "filter":
                    parameter.pop("schema", None)
                    as_json = {"type": "object", **filter_schema()}
                    parameter["content"] = {"application/json": {"schema": as_json}}
                    continue
                shape = shapes.get((parameter["in"], parameter["name"]))
                if shape is not None:
                    for branch in _branches(parameter["schema"]):
                        branch.update(shape)
    return schema


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema itself, or the non-null branches of an optional value."""
    if "anyOf" in schema:
        return [b for b in schema["anyOf"] if b.get("type") != "null"]
    return [schema]


def _set(schema: dict[str, Any], path: list[str], keyword: str, value: int) -> None:
    for branch in _branches(schema):
        if not path:
            branch[keyword] = value
        elif path[0] == "items" and "items" in branch:
            _set(branch["items"], path[1:], keyword, value)
        elif path[0] in branch.get("properties", {}):
            _set(branch["properties"][path[0]], path[1:], keyword, value)


def add_setting_limits(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """State in the schema the limits this server's settings enforce."""
    models = schema.get("components", {}).get("schemas", {})
    inline = [
        body["content"]["application/json"]["schema"]
        for operations in schema.get("paths", {}).values()
        for operation in operations.values()
        for body in [operation.get("requestBody", {})]
        if "schema" in body.get("content", {}).get("application/json", {})
    ]
    for model, prop, keyword, setting in SETTING_LIMITS:
        targets = [models[model]] if model in models else []
        targets += [s for s in inline if s.get("title") == model]
        for target in targets:
            _set(target, prop.split("."), keyword, getattr(settings, setting))
    for path, name, keyword, setting in SETTING_PARAMETERS:
        for operation in schema.get("paths", {}).get(path, {}).values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == name and parameter["in"] == "query":
                    _set(parameter["schema"], [], keyword, getattr(settings, setting))
    return schema


def install_openapi(app: FastAPI, settings: Settings, keys_configured: bool) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema = add_parameter_shapes(add_setting_limits(schema, settings))
            app.openapi_schema = add_security(schema, keys_configured)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

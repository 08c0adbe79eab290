"""The OpenAPI description with the bearer security scheme and each route's scope."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.schemas.collections import index_rules
from app.api.schemas.common import NON_BLANK, filter_schema
from app.api.scopes import HEAVY_FIELD, OPEN, SCOPE_FIELD, UNDECLARED
from app.config import Settings
from app.models.seq2seq import DEFAULT_TRANSLATOR, LANGUAGES, BergamotTranslator
from app.services import Services
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
    ("OpenAIEmbeddingRequest", "input", "maxLength", "max_text_chars"),
    ("OpenAIEmbeddingRequest", "input", "maxItems", "max_embed_texts"),
    ("OpenAIEmbeddingRequest", "input.items", "maxLength", "max_text_chars"),
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


# The type of value a keyword constrains: set only on a branch of that type (or of none).
KEYWORD_TYPES = {"maxLength": "string", "maxItems": "array", "minItems": "array"}


def _set(schema: dict[str, Any], path: list[str], keyword: str, value: Any) -> None:
    for branch in _branches(schema):
        if not path:
            wanted = KEYWORD_TYPES.get(keyword)
            if wanted is None or branch.get("type", wanted) == wanted:
                branch[keyword] = value
        elif path[0] == "items" and "items" in branch:
            _set(branch["items"], path[1:], keyword, value)
        elif path[0] in branch.get("properties", {}):
            _set(branch["properties"][path[0]], path[1:], keyword, value)


def _models(schema: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """The schemas of a model: its component, and request bodies declared inline with it."""
    models = schema.get("components", {}).get("schemas", {})
    inline = [
        body["content"]["application/json"]["schema"]
        for operations in schema.get("paths", {}).values()
        for operation in operations.values()
        for body in [operation.get("requestBody", {})]
        if "schema" in body.get("content", {}).get("application/json", {})
    ]
    found = [models[model]] if model in models else []
    return found + [s for s in inline if s.get("title") == model]


def add_setting_limits(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """State in the schema the limits this server's settings enforce."""
    for model, prop, keyword, setting in SETTING_LIMITS:
        for target in _models(schema, model):
            _set(target, prop.split("."), keyword, getattr(settings, setting))
    for path, name, keyword, setting in SETTING_PARAMETERS:
        for operation in schema.get("paths", {}).get(path, {}).values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == name and parameter["in"] == "query":
                    _set(parameter["schema"], [], keyword, getattr(settings, setting))
    return schema


def translation_pairs(services: Services) -> list[tuple[str, str]] | None:
    """The translator's (source, target) pairs, when known without loading it."""
    translator = services.registry.translator
    if translator.instance is not None:
        return translator.instance.pairs()
    if translator.name == DEFAULT_TRANSLATOR:
        return list(BergamotTranslator.PAIRS)
    return None


def _language(code: str) -> dict[str, Any]:
    """A language code as the translator reads it: any case, a 3-letter alias, a region."""
    spellings = [code] + ([LANGUAGES[code].iso3] if code in LANGUAGES else [])
    either = "|".join("".join(f"[{c.lower()}{c.upper()}]" for c in s) for s in spellings)
    return {"pattern": rf"^\s*({either})([-_][\s\S]*)?\s*$"}


def add_model_facts(schema: dict[str, Any], services: Services) -> bool:
    """State what the loaded models decide: the vector dimension, the encoder's name, the
    translation pairs, whether rerank is offered. False while some are not known yet."""
    if services.registry.reranker is None:
        for model in ("SearchRequest", "AskRequest"):
            for target in _models(schema, model):
                _set(target, ["rerank"], "enum", [False])
    pairs = translation_pairs(services)
    if pairs is not None:
        directions = [
            {"properties": {"source": _language(s), "target": _language(t)}} for s, t in pairs
        ]
        for target in _models(schema, "TranslateRequest"):
            target.setdefault("allOf", []).append({"anyOf": directions})
    if not services.ready:
        return False
    encoder = services.encoder
    for target in _models(schema, "SearchRequest"):
        for keyword in ("minItems", "maxItems"):
            _set(target, ["vector"], keyword, encoder.dimension)
    for target in _models(schema, "OpenAIEmbeddingRequest"):
        for keyword in ("minimum", "maximum"):
            _set(target, ["dimensions"], keyword, encoder.dimension)
    on_postgres = services.settings.database_url is not None
    for target in _models(schema, "CreateCollection"):
        _set(target, ["model"], "enum", [encoder.name])
        target.update(index_rules(encoder.dimension, on_postgres))
    return pairs is not None


def install_openapi(app: FastAPI, settings: Settings, keys_configured: bool) -> None:
    """The schema is built on first request and kept once every model fact in it is known."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schema = add_parameter_shapes(add_setting_limits(schema, settings))
        complete = add_model_facts(schema, app.state.services)
        schema = add_security(schema, keys_configured)
        if complete:
            app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

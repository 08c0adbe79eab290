"""Shared pieces of the API's request and response models."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.store.filters import (
    COMPARISONS,
    KEY_PATTERN,
    MAX_IN_VALUES,
    MAX_METADATA_KEYS,
    OPERATORS,
)

MAX_ID_CHARS = 256

# JSON Schema of what the validators below and in app/store/filters.py accept, so that the
# OpenAPI document states each constraint the API enforces.
NON_BLANK: dict[str, Any] = {"minLength": 1, "pattern": r"\S"}
"""A text that is not empty or only whitespace."""
NonBlankText = Annotated[str, Field(json_schema_extra=NON_BLANK)]
VECTOR_MAX = 1e15
"""Largest magnitude of a query vector's element: its norm stays finite in float32."""
VECTOR_MIN = 1e-15
"""A query vector needs one element at least this large in magnitude: a nonzero norm."""
VECTOR_ITEMS: dict[str, Any] = {
    "items": {"type": "number", "minimum": -VECTOR_MAX, "maximum": VECTOR_MAX},
    "contains": {"anyOf": [{"minimum": VECTOR_MIN}, {"maximum": -VECTOR_MIN}]},
}
"""A query vector: every element within +-VECTOR_MAX, one at least VECTOR_MIN in magnitude."""

_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean", "null"]}
_SCALARS: dict[str, Any] = {"type": "array", "items": _SCALAR}


def metadata_schema(max_keys: int = MAX_METADATA_KEYS) -> dict[str, Any]:
    """A flat JSON object: keys as KEY_PATTERN, values scalars or lists of scalars."""
    return {
        "maxProperties": max_keys,
        "propertyNames": {"pattern": KEY_PATTERN},
        "additionalProperties": {"anyOf": [_SCALAR, _SCALARS]},
    }


def filter_schema(min_fields: int = 0) -> dict[str, Any]:
    """A metadata filter: each field equal to a scalar, or an object of operators."""
    members = {**_SCALARS, "minItems": 1, "maxItems": MAX_IN_VALUES}
    operators: dict[str, Any] = {op: _SCALAR for op in OPERATORS if op not in COMPARISONS}
    operators |= {"$in": members, "$nin": members}
    operators |= {op: {"type": ["number", "string"]} for op in COMPARISONS}
    condition = {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": operators,
    }
    return {
        "minProperties": min_fields,
        "propertyNames": {"pattern": KEY_PATTERN},
        "additionalProperties": {"anyOf": [_SCALAR, condition]},
    }


def exactly_one_of(*fields: str) -> dict[str, Any]:
    """`json_schema_extra` of a model that takes exactly one of `fields` (not null)."""
    return {
        "oneOf": [
            {
                "required": [field],
                "properties": {
                    other: ({"not": {"type": "null"}} if other == field else {"type": "null"})
                    for other in fields
                },
            }
            for field in fields
        ]
    }


def check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def check_vector(value: list[float] | None) -> list[float] | None:
    """The checks VECTOR_ITEMS states."""
    if value is None:
        return None
    if any(not -VECTOR_MAX <= x <= VECTOR_MAX for x in value):
        raise ValueError(f"each value must be between -{VECTOR_MAX:g} and {VECTOR_MAX:g}")
    if all(abs(x) < VECTOR_MIN for x in value):
        raise ValueError(f"needs a value of magnitude {VECTOR_MIN:g} or more (not all zeros)")
    return value


def check_text_list(value: list[str] | None) -> list[str] | None:
    for i, text in enumerate(value or []):
        if not text.strip():
            raise ValueError(f"item {i} must not be empty or only whitespace")
    return value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. invalid_request, not_found.")
    message: str = Field(description="What was wrong, naming the field and the limit.")


class ErrorResponse(BaseModel):
    error: ErrorDetail = Field(description="The error.")


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Tokens in the prompt.")
    completion_tokens: int = Field(description="Tokens generated.")

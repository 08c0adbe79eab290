"""Metadata filters: validated, then compiled to a SQL condition over `documents.metadata`."""

import re
from typing import Any

from app.errors import BadInput

COMPARISONS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
OPERATORS = ("$eq", "$ne", "$in", "$nin", *COMPARISONS)
MAX_IN_VALUES = 1000
Scalar = str | int | float | bool | None


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _json_path(key: str) -> str:
    return '$."' + key + '"'


KEY_PATTERN = r'^[^"\\\x00-\x1f\x7f-\x9f]{1,128}$'
"""A metadata key: 1-128 characters, no quote, backslash or control character."""
_KEY = re.compile(KEY_PATTERN)


def validate_key(key: str, where: str) -> None:
    if not _KEY.fullmatch(key):
        raise BadInput(
            f"{where}: key {key!r} must be 1-128 characters without quotes, backslashes or "
            "control characters"
        )


MAX_METADATA_KEYS = 64


def validate_metadata(value: Any) -> dict[str, Any]:
    """A document's metadata: a flat object of at most 64 keys whose values are scalars or
    lists of scalars. Raises ValueError saying what is wrong."""
    if isinstance(value, dict) and len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
    return _check_flat(value)


def _check_flat(value: Any) -> dict[str, Any]:
    """A flat JSON object's keys and values, checked; raises ValueError saying what is wrong."""
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    for key, item in value.items():
        try:
            validate_key(key, "metadata")
        except BadInput as exc:
            raise ValueError(exc.message.removeprefix("metadata: ")) from exc
        for element in item if isinstance(item, list) else [item]:
            if not _is_scalar(element):
                raise ValueError(
                    f"{key!r} must be a string, number, boolean, null or a list of those "
                    "(metadata is a flat JSON object)"
                )
    return dict(value)


def validate_metadata_patch(value: Any) -> dict[str, Any]:
    """A merge patch of a document's metadata: a flat object whose keys set to null are
    removed. Raises ValueError saying what is wrong."""
    if isinstance(value, dict) and len(value) > 2 * MAX_METADATA_KEYS:
        raise ValueError(f"at most {2 * MAX_METADATA_KEYS} keys")
    return _check_flat(value)


def merge_metadata(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`current` with the JSON merge patch (RFC 7396) `patch` applied: each key set to null is
    removed, each other key set. Raises BadInput naming the field and the limit."""
    try:
        validate_metadata_patch(patch)
    except ValueError as exc:
        raise BadInput(f"metadata: {exc}") from exc
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_METADATA_KEYS:
        raise BadInput(
            f"metadata: the patched metadata would hold {len(merged)} keys; "
            f"at most {MAX_METADATA_KEYS}"
        )
    return merged


def _member(path: str, negate: bool, values: list[Scalar]) -> tuple[str, list[Any]]:
    """Matches when the field (or any element of a list field) equals one of values."""
    non_null = [v for v in values if v is not None]
    parts = []
    params: list[Any] = []
    if non_null:
        marks = ",".join("?" * len(non_null))
        parts.append(
            f"EXISTS (SELECT 1 FROM json_each(documents.metadata, ?) AS m "
            f"WHERE m.type != 'null' AND m.value IN ({marks}))"
        )
        params += [path, *non_null]
    if len(non_null) != len(values):
        parts.append(
            "json_type(documents.metadata, ?) IS NULL OR json_type(documents.metadata, ?) = 'null'"
        )
        params += [path, path]
    clause = "(" + " OR ".join(parts) + ")" if parts else "0"
    return (f"NOT {clause}" if negate else clause), params


def compile_filter(filter_: dict[str, Any], where: str = "filter") -> tuple[str, list[Any]]:
    """Turn `{"lang": "en", "year": {"$gte": 2020}}` into (sql, params); fields are ANDed."""
    if not isinstance(filter_, dict):
        raise BadInput(f"{where}: must be a JSON object of field conditions")
    clauses: list[str] = []
    params: list[Any] = []
    for key, condition in filter_.items():
        field = f"{where}.{key}"
        validate_key(key, where)
        path = _json_path(key)
        if isinstance(condition, dict):
            if not condition:
                raise BadInput(
                    f"{field}: an operator object needs at least one of {', '.join(OPERATORS)}"
                )
            for op, value in condition.items():
                sql, op_params = _compile_operator(path, op, value, f"{field}.{op}")
                clauses.append(sql)
                params += op_params
        else:
            sql, op_params = _compile_operator(path, "$eq", condition, field)
            clauses.append(sql)
            params += op_params
    return (" AND ".join(clauses) or "1"), params


def _compile_operator(path: str, op: str, value: Any, field: str) -> tuple[str, list[Any]]:
    if op in ("$eq", "$ne"):
        if not _is_scalar(value):
            raise BadInput(f"{field}: must be a string, number, boolean or null")
        return _member(path, op == "$ne", [value])
    if op in ("$in", "$nin"):
        if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
            raise BadInput(
                f"{field}: must be a non-empty list of strings, numbers, booleans or null"
            )
        if len(value) > MAX_IN_VALUES:
            raise BadInput(f"{field}: at most {MAX_IN_VALUES} values")
        return _member(path, op == "$nin", value)
    if op in COMPARISONS:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BadInput(f"{field}: must be a number or a string")
        kind = "IN ('integer', 'real')" if not isinstance(value, str) else "= 'text'"
        sql = (
            f"(json_type(documents.metadata, ?) {kind} "
            f"AND json_extract(documents.metadata, ?) {COMPARISONS[op]} ?)"
        )
        return sql, [path, path, value]
    raise BadInput(f"{field}: unknown operator {op!r}; supported: {', '.join(OPERATORS)}")

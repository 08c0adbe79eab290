"""The metadata filter language (app/store/filters.py) compiled to PostgreSQL over a JSONB
`metadata` column: equality and membership as containment (`@>`, served by the GIN index),
comparisons only between numbers or between strings, as on the embedded backend."""

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from app.errors import BadInput
from app.store.filters import COMPARISONS, compile_filter

Condition = tuple[sql.Composable, list[Any]]


def refuse_nul(field: str, value: Any) -> None:
    """PostgreSQL's text and JSONB cannot hold the NUL character: a string holding one, in
    value or anywhere inside it, is refused with BadInput naming where it is."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadInput(
                f"{field}: holds the NUL character (\\u0000), which PostgreSQL cannot store; "
                "the embedded backend can"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(f"{field}.{key}", key)
            refuse_nul(f"{field}.{key}", item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            refuse_nul(f"{field}.{i}", item)


def pg_filter(filter_: dict[str, Any] | None, column: str = "metadata") -> Condition:
    """(SQL condition, params) for `filter_`; BadInput names the field and the limit."""
    if not filter_:
        return sql.SQL("true"), []
    compile_filter(filter_)  # the one validation, with the same messages on every backend
    refuse_nul("filter", filter_)
    meta = sql.Identifier(column)
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for key, condition in filter_.items():
        ops = condition if isinstance(condition, dict) else {"$eq": condition}
        for op, value in ops.items():
            part, part_params = _operator(meta, key, op, value)
            parts.append(part)
            params += part_params
    return sql.SQL("(") + sql.SQL(" AND ").join(parts) + sql.SQL(")"), params


def _member(meta: sql.Identifier, key: str, values: list[Any], negate: bool) -> Condition:
    """The field equals one of `values`, or is a list holding one of them; None matches a
    missing or null field."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for value in values:
        if value is None:
            parts.append(sql.SQL("(NOT {m} ? %s OR {m} -> %s = 'null'::jsonb)").format(m=meta))
            params += [key, key]
        else:
            parts.append(sql.SQL("{m} @> %s OR {m} @> %s").format(m=meta))
            params += [Jsonb({key: value}), Jsonb({key: [value]})]
    clause = sql.SQL("(") + sql.SQL(" OR ").join(parts) + sql.SQL(")")
    return (sql.SQL("NOT ") + clause if negate else clause), params


def _operator(meta: sql.Identifier, key: str, op: str, value: Any) -> Condition:
    if op in ("$eq", "$ne"):
        return _member(meta, key, [value], op == "$ne")
    if op in ("$in", "$nin"):
        return _member(meta, key, list(value), op == "$nin")
    compare = sql.SQL(COMPARISONS[op])
    if isinstance(value, str):
        return (
            sql.SQL(
                "(CASE WHEN jsonb_typeof({m} -> %s) = 'string' "
                'THEN ({m} ->> %s) COLLATE "C" {op} %s ELSE false END)'
            ).format(m=meta, op=compare),
            [key, key, value],
        )
    return (
        sql.SQL(
            "(CASE WHEN jsonb_typeof({m} -> %s) = 'number' "
            "THEN ({m} ->> %s)::float8 {op} %s ELSE false END)"
        ).format(m=meta, op=compare),
        [key, key, float(value)],
    )

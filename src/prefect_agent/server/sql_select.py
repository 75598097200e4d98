"""A table query done wholly in SQL when it can be: ``where``, ``order_by``, ``limit`` and
``offset`` translated, so ``flow_run(limit: 10)`` reads ten rows, not the whole table.

Only what SQLite evaluates exactly as ``bool_exp`` does is translated: comparisons on plain
columns, written so that NULL never makes a comparison unknown (``bool_exp`` has two values:
``_neq`` and ``_nin`` hold for NULL, the others do not, also under ``_not``),
``_and``/``_or``/``_not``, ordering on plain columns. A query using anything else
(``_like``, JSON columns, relations) gets ``None`` and is filtered in Python as before.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs

MAX_PARAMETERS = 30_000
"""Below SQLite's default limit of bound parameters (32 766)."""

_COMPARISONS = {"_eq": "=", "_gt": ">", "_gte": ">=", "_lt": "<", "_lte": "<="}
_DIRECTIONS = {
    "asc": "ASC NULLS LAST",
    "asc_nulls_last": "ASC NULLS LAST",
    "asc_nulls_first": "ASC NULLS FIRST",
    "desc": "DESC NULLS FIRST",
    "desc_nulls_first": "DESC NULLS FIRST",
    "desc_nulls_last": "DESC NULLS LAST",
}


class _Untranslatable(Exception):
    pass


@attrs.frozen
class SqlSelect:
    where_sql: str
    params: tuple[Any, ...]
    order_sql: str
    limit: int | None
    offset: int


def plan(
    columns: Collection[str],
    json_columns: Collection[str],
    *,
    where: Mapping[str, Any] | None,
    order_by: Sequence[Mapping[str, Any]] | None,
    limit: int | None,
    offset: int | None,
    parent: tuple[str, str] | None = None,
) -> SqlSelect | None:
    """The SQL for this query on a table with ``columns``, or None to filter in Python."""
    plain = frozenset(columns) - frozenset(json_columns)
    params: list[Any] = []
    try:
        where_sql = _where(where or {}, plain, params)
        order_sql = _order(order_by or (), plain)
    except _Untranslatable:
        return None
    if parent is not None:
        column, parent_id = parent
        if column not in plain:
            return None
        where_sql = f"{column} = ? AND ({where_sql})"
        params.insert(0, parent_id)
    if len(params) > MAX_PARAMETERS:
        return None
    start = max(offset or 0, 0)
    count = None if limit is None else max(limit, 0)
    return SqlSelect(where_sql, tuple(params), order_sql, count, start)


def _where(where: Mapping[str, Any], plain: frozenset[str], params: list[Any]) -> str:
    clauses: list[str] = []
    for key, condition in where.items():
        if condition is None:
            continue  # Hasura treats a null condition as no condition
        if key == "_and":
            parts = [_where(part, plain, params) for part in condition]
            clauses.append("(" + " AND ".join(parts) + ")" if parts else "1")
        elif key == "_or":
            parts = [_where(part, plain, params) for part in condition]
            clauses.append("(" + " OR ".join(parts) + ")" if parts else "0")
        elif key == "_not":
            clauses.append(f"NOT ({_where(condition, plain, params)})")
        elif key in plain:
            clauses.extend(_comparisons(key, condition, params))
        else:
            raise _Untranslatable(key)  # a relation, a JSON column, or an unknown name
    return " AND ".join(clauses) if clauses else "1"


def _comparisons(column: str, condition: Mapping[str, Any], params: list[Any]) -> list[str]:
    clauses: list[str] = []
    for operator, operand in condition.items():
        if operand is None:
            continue
        if operator in _COMPARISONS:
            # Two-valued, as in Python: NULL compares false (also under _not).
            clauses.append(f"({column} IS NOT NULL AND {column} {_COMPARISONS[operator]} ?)")
            params.append(operand)
        elif operator == "_neq":
            clauses.append(f"{column} IS NOT ?")  # NULL differs from any value, as in Python
            params.append(operand)
        elif operator in ("_in", "_nin"):
            values = list(operand)
            if any(value is None for value in values):
                raise _Untranslatable(operator)
            marks = ", ".join("?" for _ in values)
            if not values:
                clauses.append("0" if operator == "_in" else "1")
            elif operator == "_in":
                clauses.append(f"({column} IS NOT NULL AND {column} IN ({marks}))")
            else:
                clauses.append(f"({column} IS NULL OR {column} NOT IN ({marks}))")
            params.extend(values)
        elif operator == "_is_null":
            clauses.append(f"{column} IS {'' if operand else 'NOT '}NULL")
        else:
            raise _Untranslatable(operator)  # _like and friends: matched in Python
    return clauses


def _order(order_by: Sequence[Mapping[str, Any]], plain: frozenset[str]) -> str:
    keys: list[str] = []
    for item in order_by:
        for column, direction in item.items():
            if column not in plain or direction not in _DIRECTIONS:
                raise _Untranslatable(column)
            keys.append(f"{column} {_DIRECTIONS[direction]}")
    return ", ".join(keys)

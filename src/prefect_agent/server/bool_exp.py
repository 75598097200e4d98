"""Hasura-style ``where`` boolean expressions, ``order_by`` and paging, applied to stored rows."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]
Relation = Callable[[Row], Sequence[Row]]
"""Rows related to a row (``task_runs`` of a flow run, its ``flow``), for nested filters."""


def matches(row: Row, where: Mapping[str, Any] | None, relations: Mapping[str, Relation]) -> bool:
    """Whether ``row`` satisfies ``where`` (every key must hold, as in Hasura)."""
    if not where:
        return True
    for key, condition in where.items():
        if condition is None:
            continue  # Hasura treats a null condition as no condition
        if key == "_and":
            ok = all(matches(row, part, relations) for part in condition)
        elif key == "_or":
            ok = any(matches(row, part, relations) for part in condition)
        elif key == "_not":
            ok = not matches(row, condition, relations)
        elif key in relations:
            ok = any(matches(related, condition, {}) for related in relations[key](row))
        else:
            ok = _compare(row.get(key), condition)
        if not ok:
            return False
    return True


_ANY_RUN, _ANY_ONE = object(), object()


@functools.lru_cache(maxsize=256)
def _like_tokens(pattern: str) -> tuple[object, ...]:
    """``%`` (any run), ``_`` (any one character) and literal characters; a backslash makes
    the next character literal, as in PostgreSQL. Adjacent ``%`` are one run."""
    tokens: list[object] = []
    escaped = False
    for ch in pattern:
        if escaped:
            tokens.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            if not tokens or tokens[-1] is not _ANY_RUN:
                tokens.append(_ANY_RUN)
        elif ch == "_":
            tokens.append(_ANY_ONE)
        else:
            tokens.append(ch)
    if escaped:
        tokens.append("\\")
    return tuple(tokens)


def like(value: str, pattern: str, *, ignore_case: bool = False) -> bool:
    """SQL ``LIKE`` without backtracking: on a mismatch only the last ``%`` is resumed, one
    character further, so a match costs at most len(value) x len(pattern) steps (a regular
    expression with many ``.*`` backtracks exponentially: twelve ``%`` took seconds)."""
    if ignore_case:
        value, pattern = value.lower(), pattern.lower()
    tokens = _like_tokens(pattern)
    t = p = 0
    resume_p, resume_t = -1, 0
    while t < len(value):
        token = tokens[p] if p < len(tokens) else None
        if token is _ANY_RUN:
            resume_p, resume_t = p, t
            p += 1
        elif token is not None and (token is _ANY_ONE or token == value[t]):
            p += 1
            t += 1
        elif resume_p >= 0:
            resume_t += 1  # let the last % swallow one more character
            p, t = resume_p + 1, resume_t
        else:
            return False
    return all(token is _ANY_RUN for token in tokens[p:])


def _contains(outer: Any, inner: Any) -> bool:
    """jsonb ``@>``: every element or key of ``inner`` is in ``outer``."""
    if isinstance(outer, dict) and isinstance(inner, dict):
        return all(k in outer and _contains(outer[k], v) for k, v in inner.items())
    if isinstance(outer, list):
        items = inner if isinstance(inner, list) else [inner]
        return all(any(_contains(o, i) for o in outer) for i in items)
    return bool(outer == inner)


def _ordered(value: Any, other: Any, test: Callable[[Any, Any], bool]) -> bool:
    if value is None or other is None:
        return False
    try:
        return test(value, other)
    except TypeError:
        return False


_OPERATORS: Mapping[str, Callable[[Any, Any], bool]] = {
    "_eq": lambda v, o: bool(v == o),
    "_neq": lambda v, o: bool(v != o),
    "_in": lambda v, o: v in o,
    "_nin": lambda v, o: v not in o,
    "_gt": lambda v, o: _ordered(v, o, lambda a, b: a > b),
    "_gte": lambda v, o: _ordered(v, o, lambda a, b: a >= b),
    "_lt": lambda v, o: _ordered(v, o, lambda a, b: a < b),
    "_lte": lambda v, o: _ordered(v, o, lambda a, b: a <= b),
    "_like": lambda v, o: isinstance(v, str) and like(v, o),
    "_ilike": lambda v, o: isinstance(v, str) and like(v, o, ignore_case=True),
    "_is_null": lambda v, o: (v is None) == bool(o),
    "_contains": lambda v, o: v is not None and _contains(v, o),
    "_contained_in": lambda v, o: v is not None and _contains(o, v),
    "_has_key": lambda v, o: isinstance(v, dict) and o in v,
}


def _compare(value: Any, condition: Mapping[str, Any]) -> bool:
    for operator, operand in condition.items():
        if operand is None:
            continue
        if not _OPERATORS[operator](value, operand):
            return False
    return True


def ordered(rows: Sequence[Row], order_by: Sequence[Mapping[str, str]] | None) -> list[Row]:
    """Rows sorted by ``order_by`` (first key most significant; nulls last when ascending and
    first when descending, as in PostgreSQL, unless the direction says otherwise)."""
    result = list(rows)
    keys = [(column, direction) for item in order_by or () for column, direction in item.items()]
    for column, direction in reversed(keys):
        descending = direction.startswith("desc")
        nulls_first = direction.endswith("nulls_first") or (
            descending and not direction.endswith("nulls_last")
        )
        present = [row for row in result if row.get(column) is not None]
        missing = [row for row in result if row.get(column) is None]
        present.sort(key=lambda row: row[column], reverse=descending)
        result = missing + present if nulls_first else present + missing
    return result


def page(rows: Sequence[Row], limit: int | None, offset: int | None) -> list[Row]:
    start = max(offset or 0, 0)
    end = None if limit is None else start + max(limit, 0)
    return list(rows[start:end])

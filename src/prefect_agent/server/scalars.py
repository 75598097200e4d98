"""The custom scalars of the embedded API: JSON, timestamps and UUIDs, strictly parsed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, StringValueNode, ValueNode
from graphql.utilities import value_from_ast_untyped

from prefect_agent.server import timestamps


def _json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


def _identity(value: Any) -> Any:
    return value


def _uuid(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f"a UUID must be a string, got {value!r}")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise GraphQLError(f"{value!r} is not a valid UUID") from None


def _string_literal(parse: Any) -> Any:
    def parse_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Any:
        if not isinstance(node, StringValueNode):
            raise GraphQLError("expected a string literal")
        return parse(node.value)

    return parse_literal


def _datetime(value: Any) -> datetime:
    try:
        return timestamps.parse(value)
    except ValueError as exc:
        raise GraphQLError(str(exc)) from None


def _timestamp_text(value: Any) -> str:
    return timestamps.to_text(_datetime(value))


def _serialize_time(value: Any) -> str:
    return timestamps.to_text(value) if isinstance(value, datetime) else str(value)


def _bind(scalar: GraphQLScalarType, serialize: Any, parse_value: Any, parse_literal: Any) -> None:
    # graphql-core 3.3 reads coerce_*; 3.2 reads serialize/parse_*: set both.
    scalar.serialize = serialize  # type: ignore[method-assign]
    scalar.parse_value = parse_value  # type: ignore[method-assign]
    scalar.parse_literal = parse_literal  # type: ignore[method-assign]
    if hasattr(scalar, "coerce_input_value"):
        scalar.coerce_output_value = serialize
        scalar.coerce_input_value = parse_value
        scalar.coerce_input_literal = None


def bind_scalars(type_map: dict[str, Any]) -> None:
    """Give the SDL's scalars their parsing and serialization."""
    for name in ("JSON", "jsonb"):
        _bind(type_map[name], _identity, _identity, _json_literal)
    # Hasura prints PostgreSQL intervals as text ("00:00:10"); they stay text here.
    _bind(type_map["interval"], str, _identity, _string_literal(_identity))
    for name in ("UUID", "uuid"):
        _bind(type_map[name], str, _uuid, _string_literal(_uuid))
    # DateTime inputs become datetimes; timestamptz (Hasura filters) canonical text that
    # compares like the stored column.
    _bind(type_map["DateTime"], _serialize_time, _datetime, _string_literal(_datetime))
    _bind(
        type_map["timestamptz"], _serialize_time, _timestamp_text, _string_literal(_timestamp_text)
    )

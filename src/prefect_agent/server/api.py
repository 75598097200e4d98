"""The embedded API as a function of a request body: parse, validate, execute, format."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from importlib import resources
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.language import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
)

from prefect_agent.server import document_shapes
from prefect_agent.server.errors import ServerError
from prefect_agent.server.faults import EXEMPT_HEADER
from prefect_agent.server.queue_limits import QueueLimits
from prefect_agent.server.request_stats import RequestStats
from prefect_agent.server.resolvers import RequestContext, bind_resolvers
from prefect_agent.server.scalars import bind_scalars
from prefect_agent.server.store import Store

logger = logging.getLogger(__name__)

PREPARED_DOCUMENTS = 512
"""How many distinct query texts keep their parsed, validated document."""

MAX_DEPTH = 10
"""Deepest selection accepted (Prefect's Apollo gateway allows 7; flow process queries need 3)."""


def schema_sdl() -> str:
    """The SDL text the embedded API serves (also used to validate the adapter's documents)."""
    return resources.files("prefect_agent.server").joinpath("schema.graphql").read_text("utf-8")


def build_api_schema() -> GraphQLSchema:
    schema = build_schema(schema_sdl())
    bind_scalars(dict(schema.type_map))
    bind_resolvers(schema)
    return schema


def _depth(node: Any, fragments: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> int:
    selection_set = getattr(node, "selection_set", None)
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            deepest = max(deepest, 1 + _depth(selection, fragments, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                deepest = max(deepest, _depth(fragments[name], fragments, seen | {name}))
    return deepest


def _root_fields(document: Any, operation_name: str | None) -> list[str]:
    return [
        selection.name.value
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (
            operation_name is None or (definition.name and definition.name.value == operation_name)
        )
        for selection in definition.selection_set.selections
        if isinstance(selection, FieldNode)
    ]


def _error(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}, **extra}


def _format(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if isinstance(original, ServerError):
        code = original.code
        message = str(original)
    elif original is not None and not isinstance(original, GraphQLError):
        # A bug of ours: log it, tell the client without leaking internals.
        logger.error("Internal error resolving %s", error.path, exc_info=original)
        code, message = "INTERNAL_SERVER_ERROR", f"Internal server error: {type(original).__name__}"
    else:
        code, message = "BAD_USER_INPUT", error.message
    formatted: dict[str, Any] = {"message": message, "extensions": {"code": code}}
    if error.locations:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    if error.path:
        formatted["path"] = list(error.path)
    return formatted


class Api:
    """The embedded API: a GraphQL schema over a ``Store``, answering request bodies."""

    def __init__(self, store: Store, limits: QueueLimits | None = None) -> None:
        self.store = store
        self.limits = limits or QueueLimits()
        self.schema = build_api_schema()
        self.stats = RequestStats()
        # Agents send the same few documents over and over: parse and validate each once.
        # (Execution never mutates a document, so sharing one between threads is safe.)
        self._valid_shapes = document_shapes.ValidShapes(PREPARED_DOCUMENTS)
        self._prepare = functools.lru_cache(maxsize=PREPARED_DOCUMENTS)(self._prepare_uncached)

    def handle(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, response JSON) for one POSTed request body."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, {
                "errors": [_error(f"Request body is not valid JSON: {exc}", "BAD_REQUEST")]
            }
        if not isinstance(payload, dict):
            return 400, {"errors": [_error("Request body must be a JSON object", "BAD_REQUEST")]}
        query = payload.get("query")
        if not isinstance(query, str) or not query.strip():
            return 400, {"errors": [_error("Request must contain a 'query' string", "BAD_REQUEST")]}
        variables = payload.get("variables")
        if isinstance(variables, str):
            # Prefect 1.x clients send variables as a JSON-encoded string ("null" when absent).
            try:
                variables = json.loads(variables)
            except ValueError as exc:
                message = f"'variables' is a string but not valid JSON: {exc}"
                return 400, {"errors": [_error(message, "BAD_REQUEST")]}
        if variables is not None and not isinstance(variables, dict):
            return 400, {"errors": [_error("'variables' must be a JSON object", "BAD_REQUEST")]}
        operation_name = payload.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            return 400, {"errors": [_error("'operationName' must be a string", "BAD_REQUEST")]}
        return self.execute(query, variables, operation_name, headers)

    def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        document, refusal = self._prepare(query)
        if refusal is not None:
            return 400, {"errors": list(refusal)}
        if not any(key.lower() == EXEMPT_HEADER.lower() for key in headers or {}):
            self.stats.record(_root_fields(document, operation_name))
        context = RequestContext(self.store, self.limits, headers or {})
        result = execute(
            self.schema,
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
        )
        if isinstance(result, Mapping) or hasattr(result, "__await__"):
            raise TypeError("the embedded API resolves synchronously")
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [_format(error) for error in result.errors]
        # Variables that do not fit their types never reach execution: a bad request.
        status = 400 if result.data is None and result.errors else 200
        return status, body

    def _prepare_uncached(self, query: str) -> tuple[Any, tuple[dict[str, Any], ...] | None]:
        """The parsed document, or the errors that refuse it (parse, validation, depth)."""
        try:
            document = parse(query)
        except GraphQLError as exc:
            return None, (_error(exc.message, "GRAPHQL_PARSE_FAILED"),)
        key = document_shapes.shape(query)
        if key is not None and key in self._valid_shapes:
            errors = validate(self.schema, document, document_shapes.LITERAL_RULES)
        else:
            errors = validate(self.schema, document)
        if errors:
            return None, tuple(_error(e.message, "GRAPHQL_VALIDATION_FAILED") for e in errors)
        too_deep = self._too_deep(document)
        if too_deep:
            return None, (_error(too_deep, "GRAPHQL_VALIDATION_FAILED"),)
        if key is not None:
            self._valid_shapes.add(key)
        return document, None

    @staticmethod
    def _too_deep(document: Any) -> str:
        fragments = {
            d.name.value: d
            for d in document.definitions
            if not isinstance(d, OperationDefinitionNode)
        }
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                depth = _depth(definition, fragments)
                if depth > MAX_DEPTH:
                    return f"Query is {depth} levels deep; at most {MAX_DEPTH} are allowed"
        return ""

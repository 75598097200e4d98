"""The embedded API as a function of a request body: parse, validate, execute, format."""

from __future__ import annotations

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
from graphql.language import FieldNode, OperationDefinitionNode

from prefect_agent.domain.queue_limits import QueueLimits
from prefect_agent.server import document_shapes
from prefect_agent.server.errors import ServerError
from prefect_agent.server.faults import EXEMPT_HEADER
from prefect_agent.server.query_limits import (
    DocumentCache,
    LimitExceeded,
    RowBudget,
    check_document,
    meter_resolvers,
)
from prefect_agent.server.request_limits import QueryLimits
from prefect_agent.server.request_stats import RequestStats
from prefect_agent.server.resolvers import RequestContext, bind_resolvers
from prefect_agent.server.scalars import bind_scalars
from prefect_agent.server.store import Store

logger = logging.getLogger(__name__)


def schema_sdl() -> str:
    """The SDL text the embedded API serves (also used to validate the adapter's documents)."""
    return resources.files("prefect_agent.server").joinpath("schema.graphql").read_text("utf-8")


def build_api_schema() -> GraphQLSchema:
    schema = build_schema(schema_sdl())
    bind_scalars(dict(schema.type_map))
    bind_resolvers(schema)
    meter_resolvers(schema, _budget_of)
    return schema


class _MeteredContext(RequestContext):
    """A request's context with the rows it may still resolve."""

    def __init__(self, *args: Any, budget: RowBudget) -> None:
        super().__init__(*args)
        self.budget = budget


def _budget_of(context: Any) -> RowBudget:
    if isinstance(context, _MeteredContext):
        return context.budget
    return RowBudget(1 << 62)  # a caller of the schema that set no budget


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

    def __init__(
        self,
        store: Store,
        limits: QueueLimits | None = None,
        query_limits: QueryLimits | None = None,
    ) -> None:
        self.store = store
        self.limits = limits or QueueLimits()
        self.query_limits = query_limits or QueryLimits()
        self.schema = build_api_schema()
        self.stats = RequestStats()
        # Agents send the same few documents over and over: parse and validate each once.
        # (Execution never mutates a document, so sharing one between threads is safe.)
        self.documents = DocumentCache(
            self.query_limits.cache_entries, self.query_limits.cache_max_query_bytes
        )
        # Documents that differ only in literal values validate once per shape.
        self._valid_shapes = document_shapes.ValidShapes(self.query_limits.cache_entries)

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
        document, refusal = self.documents.get_or_prepare(query, self._prepare)
        if refusal is not None:
            return 400, {"errors": list(refusal)}
        if not any(key.lower() == EXEMPT_HEADER.lower() for key in headers or {}):
            self.stats.record(_root_fields(document, operation_name))
        budget = RowBudget(self.query_limits.max_rows)
        context = _MeteredContext(self.store, self.limits, headers or {}, budget=budget)
        result = execute(
            self.schema,
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
        )
        if isinstance(result, Mapping) or hasattr(result, "__await__"):
            raise TypeError("the embedded API resolves synchronously")
        over = [e for e in result.errors or () if isinstance(e.original_error, LimitExceeded)]
        if over:
            # Every field resolved after the budget ran out fails the same way: say it once.
            return 400, {"data": None, "errors": [_format(over[0])]}
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [_format(error) for error in result.errors]
        # Variables that do not fit their types never reach execution: a bad request.
        status = 400 if result.data is None and result.errors else 200
        return status, body

    def encode(self, status: int, body: Mapping[str, Any]) -> tuple[int, bytes]:
        """The answer as JSON bytes, or the error that replaces one over ``max_result_bytes``."""
        data = json.dumps(body, default=str).encode()
        limit = self.query_limits.max_result_bytes
        if len(data) <= limit:
            return status, data
        message = (
            f"The answer would be {len(data)} bytes; at most {limit} are sent "
            "(setting max_result_bytes); narrow the query with where/limit"
        )
        refused = {"data": None, "errors": [_error(message, LimitExceeded.code)]}
        return 400, json.dumps(refused).encode()

    def _prepare(self, query: str) -> tuple[Any, tuple[dict[str, Any], ...] | None]:
        """The parsed document, or the errors that refuse it (parse, cost limits, validation)."""
        try:
            document = parse(query, max_tokens=self.query_limits.max_tokens)
        except GraphQLError as exc:
            if "tokens. Parsing aborted" in exc.message:
                message = (
                    f"Query has more than {self.query_limits.max_tokens} tokens "
                    "(setting max_tokens)"
                )
                return None, (_error(message, LimitExceeded.code),)
            return None, (_error(exc.message, "GRAPHQL_PARSE_FAILED"),)
        # Measured before validation: validation walks fragments as they are spread too.
        try:
            check_document(document, self.query_limits)
        except LimitExceeded as exc:
            return None, (_error(str(exc), exc.code),)
        key = document_shapes.shape(query)
        if key is not None and key in self._valid_shapes:
            errors = validate(self.schema, document, document_shapes.LITERAL_RULES)
        else:
            errors = validate(self.schema, document)
        if errors:
            return None, tuple(_error(e.message, "GRAPHQL_VALIDATION_FAILED") for e in errors)
        if key is not None:
            self._valid_shapes.add(key)
        return document, None

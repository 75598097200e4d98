"""What one GraphQL request may cost the embedded API, and the checks that enforce it.

Static checks run on the parsed document before validation (graphql-core's own validation
walks fragments too, so a document is measured first): depth and the number of fields once
fragments are expanded, each fragment measured once however often it is spread (a chain of
fragments that each spread the previous one twice doubles per link; walking it literally
took 0.35 s for 18 links and would take minutes for 30). The row budget is counted while
resolving: nested lists fan out (``flow_run { flow { flow_runs { ... } } }`` is N x M rows)
and only execution knows by how much.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
)

from prefect_agent.server.errors import ServerError


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, not {value!r}")


@attrs.frozen
class QueryLimits:
    """Each limit names itself in the error a request exceeding it gets."""

    max_depth: int = attrs.field(default=10, validator=_positive)
    """Deepest selection (Prefect's Apollo gateway allows 7; flow processes need 3)."""
    max_fields: int = attrs.field(default=5_000, validator=_positive)
    """Fields selected once fragments are expanded (aliases count each time)."""
    max_tokens: int = attrs.field(default=100_000, validator=_positive)
    """Tokens parsed in one document (a 250-mutation burst is about 3 000)."""
    max_rows: int = attrs.field(default=200_000, validator=_positive)
    """Rows resolved by one request, all lists and nested lists together."""
    max_result_bytes: int = attrs.field(default=64 * 1024 * 1024, validator=_positive)
    """Size of one JSON answer."""
    cache_entries: int = attrs.field(default=256, validator=_positive)
    """Parsed documents kept, keyed by a hash of their text."""
    cache_max_query_bytes: int = attrs.field(default=64 * 1024, validator=_positive)
    """Larger documents are parsed every time rather than kept."""


class LimitExceeded(ServerError):
    """A request over one of the ``QueryLimits`` (the message names the setting)."""

    code = "QUERY_LIMIT_EXCEEDED"


def _fragment_key(name: str) -> str:
    return "fragment " + name


class _Measure:
    """Depth and expanded field count of selections, each fragment measured once."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.done: dict[str, tuple[int, int]] = {}
        self.active: set[str] = set()

    def selection_set(self, node: Any) -> tuple[int, int]:
        selection_set = getattr(node, "selection_set", None)
        if selection_set is None:
            return 0, 0
        deepest = fields = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                depth, count = self.selection_set(selection)
                deepest, fields = max(deepest, depth + 1), fields + count + 1
            elif isinstance(selection, InlineFragmentNode):
                depth, count = self.selection_set(selection)
                deepest, fields = max(deepest, depth), fields + count
            elif isinstance(selection, FragmentSpreadNode):
                depth, count = self.fragment(selection.name.value)
                deepest, fields = max(deepest, depth), fields + count
            # Saturate: a document cannot be more than refused.
            fields = min(fields, 1 << 62)
        return deepest, fields

    def fragment(self, name: str) -> tuple[int, int]:
        if name in self.done:
            return self.done[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return 0, 0  # unknown or cyclic: validation refuses it with its own message
        self.active.add(name)
        self.done[name] = self.selection_set(definition)
        self.active.discard(name)
        return self.done[name]


def check_document(document: DocumentNode, limits: QueryLimits) -> None:
    """Raise ``LimitExceeded`` for a document too deep or too wide."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measure = _Measure(fragments)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        depth, fields = measure.selection_set(definition)
        if depth > limits.max_depth:
            raise LimitExceeded(
                f"Query is {depth} levels deep; at most {limits.max_depth} are allowed "
                "(setting max_depth)"
            )
        if fields > limits.max_fields:
            raise LimitExceeded(
                f"Query selects {fields} fields once fragments are expanded; at most "
                f"{limits.max_fields} are allowed (setting max_fields)"
            )


class RowBudget:
    """Rows one request has resolved so far; ``charge`` refuses past ``max_rows``."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.rows = 0

    def charge(self, count: int) -> None:
        self.rows += count
        if self.rows > self.max_rows:
            raise LimitExceeded(
                f"Query resolves more than {self.max_rows} rows; narrow it with where/limit "
                "(setting max_rows)"
            )


def _is_list(field_type: Any) -> bool:
    while isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


def meter_resolvers(schema: GraphQLSchema, budget_of: Callable[[Any], RowBudget]) -> None:
    """Charge every row a resolver of an object or list field returns to the request's
    budget (``budget_of(info.context)``). Scalar fields keep the default resolver: only the
    fields that read rows pay for the check."""
    for type_name, graphql_type in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field in graphql_type.fields.values():
            resolve = field.resolve
            if resolve is None:
                continue
            if _is_list(field.type):
                field.resolve = _metered_list(resolve, budget_of)
            elif isinstance(_unwrapped(field.type), GraphQLObjectType):
                field.resolve = _metered_one(resolve, budget_of)


def _unwrapped(field_type: Any) -> Any:
    while isinstance(field_type, (GraphQLNonNull, GraphQLList)):
        field_type = field_type.of_type
    return field_type


def _metered_list(resolve: Callable[..., Any], budget_of: Callable[[Any], RowBudget]) -> Any:
    def metered(root: Any, info: Any, **args: Any) -> Any:
        budget = budget_of(info.context)
        budget.charge(0)  # a request already over budget stops resolving at once
        result = resolve(root, info, **args)
        if isinstance(result, list):
            budget.charge(len(result))
        return result

    return metered


def _metered_one(resolve: Callable[..., Any], budget_of: Callable[[Any], RowBudget]) -> Any:
    def metered(root: Any, info: Any, **args: Any) -> Any:
        budget = budget_of(info.context)
        budget.charge(1)
        return resolve(root, info, **args)

    return metered


class DocumentCache:
    """Prepared documents by the SHA-256 of their text, least recently used dropped first.

    Keyed by a hash so the cache never holds a query's text; documents of queries larger
    than ``max_query_bytes`` are not kept at all (agents send small documents again and
    again; a large one-off must not pin its syntax tree).
    """

    def __init__(self, entries: int, max_query_bytes: int) -> None:
        self.entries = entries
        self.max_query_bytes = max_query_bytes
        self._items: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_or_prepare(self, query: str, prepare: Callable[[str], Any]) -> Any:
        encoded = query.encode("utf-8", "surrogatepass")
        if len(encoded) > self.max_query_bytes:
            return prepare(query)
        key = hashlib.sha256(encoded).digest()
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        prepared = prepare(query)
        with self._lock:
            self._items[key] = prepared
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return prepared

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
from collections import Counter, OrderedDict
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
from prefect_agent.server.request_limits import QueryLimits


class LimitExceeded(ServerError):
    """A request over one of the ``QueryLimits`` (the message names the setting)."""

    code = "QUERY_LIMIT_EXCEEDED"


@attrs.frozen
class _Shape:
    """A selection set measured: depth, fields once expanded, and how often each response
    key appears at its top level (fragments and inline fragments merged in)."""

    depth: int
    fields: int
    keys: Counter[str]


_EMPTY = _Shape(0, 0, Counter())
_SATURATED = 1 << 62


class _Measure:
    """Measures selection sets, each fragment once, refusing repeats as it goes.

    graphql-core's overlapping-fields validation compares every pair of fields that share a
    response key in a selection set, and every pair of fragments spread there: 300 copies
    of ``flow_run { id name state }`` took 1.9 s. Bounding repeats and spreads per selection
    set bounds that work.
    """

    def __init__(
        self, fragments: Mapping[str, FragmentDefinitionNode], limits: QueryLimits
    ) -> None:
        self.fragments = fragments
        self.limits = limits
        self.done: dict[str, _Shape] = {}
        self.active: set[str] = set()

    def selection_set(self, node: Any) -> _Shape:
        selection_set = getattr(node, "selection_set", None)
        if selection_set is None:
            return _EMPTY
        deepest = fields = spreads = 0
        keys: Counter[str] = Counter()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self.selection_set(selection)
                deepest = max(deepest, inner.depth + 1)
                fields += inner.fields + 1
                keys[(selection.alias or selection.name).value] += 1
                continue
            if isinstance(selection, FragmentSpreadNode):
                spreads += 1
                inner = self.fragment(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection)
            else:
                continue
            deepest = max(deepest, inner.depth)
            fields += inner.fields
            keys.update(inner.keys)
        self._check_breadth(keys, spreads)
        return _Shape(deepest, min(fields, _SATURATED), keys)

    def _check_breadth(self, keys: Counter[str], spreads: int) -> None:
        if spreads > self.limits.max_spreads:
            raise LimitExceeded(
                f"A selection spreads {spreads} fragments; at most {self.limits.max_spreads} "
                "are allowed in one selection (setting max_spreads)"
            )
        if keys:
            key, count = keys.most_common(1)[0]
            if count > self.limits.max_repeats:
                raise LimitExceeded(
                    f"{key!r} is selected {count} times in one selection (fragments "
                    f"included); at most {self.limits.max_repeats} are allowed (setting "
                    "max_repeats); use aliases for distinct fields"
                )

    def fragment(self, name: str) -> _Shape:
        if name in self.done:
            return self.done[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return _EMPTY  # unknown or cyclic: validation refuses it with its own message
        self.active.add(name)
        self.done[name] = self.selection_set(definition)
        self.active.discard(name)
        return self.done[name]


def check_document(document: DocumentNode, limits: QueryLimits) -> None:
    """Raise ``LimitExceeded`` for a document too deep, too wide or too repetitive."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measure = _Measure(fragments, limits)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        shape = measure.selection_set(definition)
        if shape.depth > limits.max_depth:
            raise LimitExceeded(
                f"Query is {shape.depth} levels deep; at most {limits.max_depth} are allowed "
                "(setting max_depth)"
            )
        if shape.fields > limits.max_fields:
            raise LimitExceeded(
                f"Query selects {shape.fields} fields once fragments are expanded; at most "
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
                field.resolve = _metered_list(resolve, budget_of, "limit" in field.args)
            elif isinstance(_unwrapped(field.type), GraphQLObjectType):
                field.resolve = _metered_one(resolve, budget_of)


def _unwrapped(field_type: Any) -> Any:
    while isinstance(field_type, (GraphQLNonNull, GraphQLList)):
        field_type = field_type.of_type
    return field_type


def _metered_list(
    resolve: Callable[..., Any], budget_of: Callable[[Any], RowBudget], has_limit: bool
) -> Any:
    def metered(root: Any, info: Any, **args: Any) -> Any:
        budget = budget_of(info.context)
        budget.charge(0)  # a request already over budget stops resolving at once
        if has_limit:
            # Read at most one row past what the budget allows: enough to know it is
            # exceeded, and a request cannot make the store read a whole table first.
            room = budget.max_rows - budget.rows + 1
            given = args.get("limit")
            args["limit"] = room if given is None else min(given, room)
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

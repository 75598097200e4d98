"""The resolvers of the embedded API: each GraphQL field mapped onto the store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from prefect_agent.server import bool_exp, sql_select, timestamps
from prefect_agent.server.errors import ServerError
from prefect_agent.server.queue_limits import QueueLimits
from prefect_agent.server.store import JSON_COLUMNS, Store

Resolver = Callable[..., Any]
Info = GraphQLResolveInfo  # generic in graphql-core 3.3, plain in 3.2


class RequestContext:
    """What one request's resolvers share: the store, the limits, the Prefect headers."""

    def __init__(
        self,
        store: Store,
        limits: QueueLimits,
        headers: Mapping[str, str],
    ) -> None:
        self.store = store
        self.limits = limits
        lowered = {key.lower(): value for key, value in headers.items()}
        self.agent_id = lowered.get("x-prefect-agent-id") or None
        self.core_version = lowered.get("x-prefect-core-version") or None
        self._flows: dict[str, Any] = {}

    def flow(self, flow_id: str) -> Any:
        # Many runs of a metadata query share a flow: read it once per request.
        if flow_id not in self._flows:
            self._flows[flow_id] = self.store.row("flow", flow_id)
        return self._flows[flow_id]


def _ctx(info: Info) -> RequestContext:
    context = info.context
    assert isinstance(context, RequestContext)
    return context


# -- the Hasura half --------------------------------------------------------------------------


def _relations(table: str, ctx: RequestContext) -> dict[str, bool_exp.Relation]:
    store = ctx.store
    if table == "flow_run":
        return {
            "task_runs": lambda row: store.rows_by("task_run", "flow_run_id", [row["id"]]),
            "flow": lambda row: [f] if (f := ctx.flow(row["flow_id"])) else [],
        }
    return {}


def _ids_wanted(where: Mapping[str, Any] | None) -> list[str] | None:
    """The ids an ``id: {_eq}`` or ``id: {_in}`` condition allows, to read only those rows."""
    condition = (where or {}).get("id") or {}
    if condition.get("_eq") is not None:
        return [condition["_eq"]]
    if condition.get("_in") is not None:
        return list(condition["_in"])
    return None


PREFILTER_COLUMNS = frozenset({"state", "flow_id", "flow_run_id", "tenant_id", "name", "task_id"})
"""Plain text columns whose top-level ``_eq``/``_in`` conditions narrow the rows read by SQL."""


def _prefilter(store: Store, table: str, where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """SQL narrowing the rows to read; the full ``where`` is still applied afterwards."""
    clauses: list[str] = []
    params: list[Any] = []
    columns = store.columns[table]
    for column, condition in (where or {}).items():
        if column not in PREFILTER_COLUMNS or column not in columns or not condition:
            continue
        if condition.get("_eq") is not None:
            clauses.append(f"{column} = ?")
            params.append(condition["_eq"])
        elif condition.get("_in") is not None:
            values = list(condition["_in"])[:500]
            if len(values) == len(condition["_in"]):
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
    return " AND ".join(clauses), params


def select(
    ctx: RequestContext,
    table: str,
    *,
    where: Mapping[str, Any] | None = None,
    order_by: Any = None,
    limit: int | None = None,
    offset: int | None = None,
    parent: tuple[str, str] | None = None,
) -> list[Mapping[str, Any]]:
    """Rows of ``table`` (optionally children of ``parent`` = (column, id)) as Hasura lists them."""
    store = ctx.store
    in_sql = sql_select.plan(
        store.columns[table],
        JSON_COLUMNS[table],
        where=where,
        order_by=order_by,
        limit=limit,
        offset=offset,
        parent=parent,
    )
    if in_sql is not None:  # the common case: filtered, ordered and paged by SQLite
        return list(
            store.rows(
                table,
                where_sql=in_sql.where_sql,
                params=in_sql.params,
                order_sql=in_sql.order_sql,
                limit=in_sql.limit,
                offset=in_sql.offset,
            )
        )
    wanted = _ids_wanted(where)
    if parent is not None:
        rows = store.rows_by(table, parent[0], [parent[1]])
    elif wanted is not None:
        rows = store.rows_by(table, "id", wanted)
    else:
        where_sql, params = _prefilter(store, table, where)
        rows = store.rows(table, where_sql=where_sql, params=params)
    relations = _relations(table, ctx)
    rows = [row for row in rows if bool_exp.matches(row, where, relations)]
    return bool_exp.page(bool_exp.ordered(rows, order_by), limit, offset)


def _table(table: str) -> Resolver:
    def resolve(_root: Any, info: Info, **args: Any) -> list[Mapping[str, Any]]:
        return select(_ctx(info), table, **args)

    return resolve


def _by_pk(table: str) -> Resolver:
    def resolve(_root: Any, info: Info, id: str) -> Any:
        return _ctx(info).store.row(table, id)

    return resolve


def _children(table: str, column: str) -> Resolver:
    def resolve(root: Mapping[str, Any], info: Info, **args: Any) -> Any:
        return select(_ctx(info), table, parent=(column, root["id"]), **args)

    return resolve


def _flow_of(root: Mapping[str, Any], info: Info) -> Any:
    return _ctx(info).flow(root["flow_id"])


def _flow_run_of(root: Mapping[str, Any], info: Info) -> Any:
    return _ctx(info).store.row("flow_run", root["flow_run_id"])


# -- the Python-service half ------------------------------------------------------------------


def _hello(_root: Any, _info: Info) -> str:
    return "hello from the prefect-agent embedded API"


def _auth_info(_root: Any, info: Info) -> Mapping[str, Any]:
    return {"tenant_id": _ctx(info).store.default_tenant_id()}


def _create_tenant(_root: Any, info: Info, input: Any) -> Any:
    return {"id": _ctx(info).store.create_tenant(input["name"], input["slug"])}


def _register_agent(_root: Any, info: Info, input: Any) -> Any:
    ctx = _ctx(info)
    agent_id = ctx.store.register_agent(
        tenant_id=input.get("tenant_id"),
        agent_type=input["type"],
        name=input.get("name"),
        labels=input.get("labels") or [],
        agent_config_id=input.get("agent_config_id"),
        core_version=ctx.core_version,
    )
    return {"id": agent_id}


def _create_agent_config(_root: Any, info: Info, input: Any) -> Any:
    store = _ctx(info).store
    config_id = store.create_agent_config(
        input["tenant_id"], input.get("name"), input.get("settings")
    )
    return {"id": config_id}


def _get_runs_in_queue(_root: Any, info: Info, input: Any) -> Any:
    ctx = _ctx(info)
    now = timestamps.utc_now()
    ids = ctx.store.runs_in_queue(
        input["tenant_id"], input.get("before") or now, input.get("labels") or [], ctx.limits
    )
    if ctx.agent_id:
        ctx.store.touch_agent(ctx.agent_id, now)
    return {"flow_run_ids": ids}


def _create_flow(_root: Any, info: Info, input: Any) -> Any:
    flow_id = _ctx(info).store.create_flow(
        input["serialized_flow"],
        description=input.get("description"),
        idempotency_key=input.get("idempotency_key"),
    )
    return {"id": flow_id}


def _create_flow_run(_root: Any, info: Info, input: Any) -> Any:
    if not input.get("flow_id"):
        raise ServerError("create_flow_run: flow_id is required by this API")
    run_id = _ctx(info).store.create_flow_run(
        flow_id=input["flow_id"],
        labels=input.get("labels"),
        run_config=input.get("run_config"),
        parameters=input.get("parameters"),
        context=input.get("context"),
        scheduled_start_time=input.get("scheduled_start_time"),
        name=input.get("flow_run_name"),
        idempotency_key=input.get("idempotency_key"),
    )
    return {"id": run_id}


def _get_or_create_task_run(_root: Any, info: Info, input: Any) -> Any:
    task_run_id = _ctx(info).store.get_or_create_task_run(
        input["flow_run_id"], input["task_id"], input.get("map_index", -1)
    )
    return {"id": task_run_id}


def _states_payload(ids: list[str]) -> Mapping[str, Any]:
    return {"states": [{"id": i, "status": "SUCCESS", "message": None} for i in ids]}


def _set_flow_run_states(_root: Any, info: Info, input: Any) -> Any:
    ctx = _ctx(info)
    return _states_payload(ctx.store.set_flow_run_states(input["states"], agent_id=ctx.agent_id))


def _set_task_run_states(_root: Any, info: Info, input: Any) -> Any:
    return _states_payload(_ctx(info).store.set_task_run_states(input["states"]))


def _write_run_logs(_root: Any, info: Info, input: Any) -> Any:
    _ctx(info).store.write_logs(input["logs"])
    return {"success": True, "error": None}


def _heartbeat(_root: Any, info: Info, input: Any) -> Any:
    _ctx(info).store.heartbeat(input["flow_run_id"])
    return {"success": True, "error": None}


def _cancel_flow_run(_root: Any, info: Info, input: Any) -> Any:
    return {"state": _ctx(info).store.cancel_flow_run(input["flow_run_id"])}


QUERY: Mapping[str, Resolver] = {
    "hello": _hello,
    "auth_info": _auth_info,
    "tenant": _table("tenant"),
    "agent": _table("agent"),
    "agent_config": _table("agent_config"),
    "flow": _table("flow"),
    "flow_by_pk": _by_pk("flow"),
    "flow_run": _table("flow_run"),
    "flow_run_by_pk": _by_pk("flow_run"),
    "task_run": _table("task_run"),
    "task_run_by_pk": _by_pk("task_run"),
}

MUTATION: Mapping[str, Resolver] = {
    "create_tenant": _create_tenant,
    "register_agent": _register_agent,
    "create_agent_config": _create_agent_config,
    "get_runs_in_queue": _get_runs_in_queue,
    "create_flow": _create_flow,
    "create_flow_run": _create_flow_run,
    "get_or_create_task_run": _get_or_create_task_run,
    "set_flow_run_states": _set_flow_run_states,
    "set_task_run_states": _set_task_run_states,
    "write_run_logs": _write_run_logs,
    "update_flow_run_heartbeat": _heartbeat,
    "cancel_flow_run": _cancel_flow_run,
}

RELATIONS: Mapping[tuple[str, str], Resolver] = {
    ("flow", "flow_runs"): _children("flow_run", "flow_id"),
    ("flow_run", "flow"): _flow_of,
    ("flow_run", "task_runs"): _children("task_run", "flow_run_id"),
    ("flow_run", "states"): _children("flow_run_state", "flow_run_id"),
    ("flow_run", "logs"): _children("log", "flow_run_id"),
    ("task_run", "flow_run"): _flow_run_of,
}


def bind_resolvers(schema: GraphQLSchema) -> None:
    assert schema.query_type is not None and schema.mutation_type is not None
    for name, resolver in QUERY.items():
        schema.query_type.fields[name].resolve = resolver
    for name, resolver in MUTATION.items():
        schema.mutation_type.fields[name].resolve = resolver
    for (type_name, field), resolver in RELATIONS.items():
        object_type = schema.type_map[type_name]
        assert isinstance(object_type, GraphQLObjectType)
        object_type.fields[field].resolve = resolver

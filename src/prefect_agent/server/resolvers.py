"""The resolvers of the embedded API: each GraphQL field mapped onto the store."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from prefect_agent.domain.queue_limits import QueueLimits
from prefect_agent.server import bool_exp, registration, sql_select, timestamps
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
        self._rows: dict[tuple[str, str], Any] = {}

    def row(self, table: str, row_id: str) -> Any:
        # Many runs of a metadata query share a flow, task runs their tasks: read each once
        # per request.
        key = (table, row_id)
        if key not in self._rows:
            self._rows[key] = self.store.row(table, row_id)
        return self._rows[key]


def _ctx(info: Info) -> RequestContext:
    context = info.context
    assert isinstance(context, RequestContext)
    return context


# -- the Hasura half --------------------------------------------------------------------------

RELATIONS: Mapping[tuple[str, str], tuple[str, str, str, bool]] = {
    # (table, field): (local column, related table, related column, many)
    ("tenant", "projects"): ("id", "project", "tenant_id", True),
    ("tenant", "flows"): ("id", "flow", "tenant_id", True),
    ("project", "tenant"): ("tenant_id", "tenant", "id", False),
    ("project", "flows"): ("id", "flow", "project_id", True),
    ("flow_group", "tenant"): ("tenant_id", "tenant", "id", False),
    ("flow_group", "flows"): ("id", "flow", "flow_group_id", True),
    ("flow", "project"): ("project_id", "project", "id", False),
    ("flow", "flow_group"): ("flow_group_id", "flow_group", "id", False),
    ("flow", "tenant"): ("tenant_id", "tenant", "id", False),
    ("flow", "tasks"): ("id", "task", "flow_id", True),
    ("flow", "edges"): ("id", "edge", "flow_id", True),
    ("flow", "flow_runs"): ("id", "flow_run", "flow_id", True),
    ("flow", "versions"): ("version_group_id", "flow", "version_group_id", True),
    ("task", "flow"): ("flow_id", "flow", "id", False),
    ("task", "task_runs"): ("id", "task_run", "task_id", True),
    ("task", "upstream_edges"): ("id", "edge", "downstream_task_id", True),
    ("task", "downstream_edges"): ("id", "edge", "upstream_task_id", True),
    ("edge", "flow"): ("flow_id", "flow", "id", False),
    ("edge", "upstream_task"): ("upstream_task_id", "task", "id", False),
    ("edge", "downstream_task"): ("downstream_task_id", "task", "id", False),
    ("flow_run", "flow"): ("flow_id", "flow", "id", False),
    ("flow_run", "tenant"): ("tenant_id", "tenant", "id", False),
    ("flow_run", "agent"): ("agent_id", "agent", "id", False),
    ("flow_run", "task_runs"): ("id", "task_run", "flow_run_id", True),
    ("flow_run", "states"): ("id", "flow_run_state", "flow_run_id", True),
    ("flow_run", "logs"): ("id", "log", "flow_run_id", True),
    ("flow_run_state", "flow_run"): ("flow_run_id", "flow_run", "id", False),
    ("task_run", "flow_run"): ("flow_run_id", "flow_run", "id", False),
    ("task_run", "task"): ("task_id", "task", "id", False),
    ("task_run", "states"): ("id", "task_run_state", "task_run_id", True),
    ("task_run", "logs"): ("id", "log", "task_run_id", True),
    ("task_run", "artifacts"): ("id", "task_run_artifact", "task_run_id", True),
    ("task_run_state", "task_run"): ("task_run_id", "task_run", "id", False),
    ("log", "flow_run"): ("flow_run_id", "flow_run", "id", False),
    ("log", "task_run"): ("task_run_id", "task_run", "id", False),
    ("agent", "agent_config"): ("agent_config_id", "agent_config", "id", False),
    ("agent", "flow_runs"): ("id", "flow_run", "agent_id", True),
    ("agent_config", "agents"): ("id", "agent", "agent_config_id", True),
    ("task_run_artifact", "task_run"): ("task_run_id", "task_run", "id", False),
}
"""Hasura's relationships: a field of a row that is another table's rows."""

TABLES = (
    "tenant", "project", "flow_group", "flow", "task", "edge", "flow_run", "flow_run_state",
    "task_run", "task_run_state", "log", "agent", "agent_config", "task_run_artifact",
    "task_tag_limit",
)  # fmt: skip


def _ids_wanted(where: Mapping[str, Any] | None) -> list[str] | None:
    """The ids an ``id: {_eq}`` or ``id: {_in}`` condition allows, to read only those rows."""
    condition = (where or {}).get("id") or {}
    if condition.get("_eq") is not None:
        return [condition["_eq"]]
    if condition.get("_in") is not None:
        return list(condition["_in"])
    return None


PREFILTER_COLUMNS = frozenset(
    {
        "state", "flow_id", "flow_run_id", "tenant_id", "name", "task_id", "project_id",
        "flow_group_id", "version_group_id", "task_run_id", "slug", "cache_key", "tag",
    }
)  # fmt: skip
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


def _resolve_relations(
    ctx: RequestContext,
    table: str,
    where: Mapping[str, Any] | None,
    scope: list[str] | None,
) -> dict[str, Any] | None:
    """``where`` with each relationship condition replaced by a condition on a column of
    ``table`` (the related rows that match, read first). ``scope``: the only ids of ``table``
    the query can return, which bounds the related rows to read."""
    if not where:
        return None
    plain: dict[str, Any] = {}
    derived: list[dict[str, Any]] = []
    for key, condition in where.items():
        if condition is None:
            continue
        if key in ("_and", "_or"):
            parts = condition if isinstance(condition, list) else [condition]
            plain[key] = [_resolve_relations(ctx, table, part, scope) or {} for part in parts]
        elif key == "_not":
            plain[key] = _resolve_relations(ctx, table, condition, scope) or {}
        elif (table, key) in RELATIONS:
            local, related, column, many = RELATIONS[(table, key)]
            parent = (column, scope) if many and local == "id" and scope is not None else None
            rows = select(ctx, related, where=condition, parents=parent)
            derived.append({local: {"_in": sorted({r[column] for r in rows if r[column]})}})
        else:
            plain[key] = condition
    for extra in derived:
        ((column, condition),) = extra.items()
        if column in plain:
            plain.setdefault("_and", []).append(extra)
        else:
            plain[column] = condition
    return plain


def _distinct(rows: list[Mapping[str, Any]], columns: Any) -> list[Mapping[str, Any]]:
    if not columns:
        return rows
    columns = columns if isinstance(columns, list) else [columns]
    seen: set[str] = set()
    kept = []
    for row in rows:
        key = json.dumps([row.get(c) for c in columns], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def select(
    ctx: RequestContext,
    table: str,
    *,
    where: Mapping[str, Any] | None = None,
    order_by: Any = None,
    limit: int | None = None,
    offset: int | None = None,
    distinct_on: Any = None,
    parent: tuple[str, str] | None = None,
    parents: tuple[str, list[str]] | None = None,
) -> list[Mapping[str, Any]]:
    """Rows of ``table`` (optionally children of ``parent`` = (column, id), or of any of
    ``parents`` = (column, ids)) as Hasura lists them."""
    store = ctx.store
    in_sql = (
        None
        if distinct_on is not None or parents is not None
        else sql_select.plan(
            store.columns[table],
            JSON_COLUMNS[table],
            where=where,
            order_by=_order_list(order_by),
            limit=limit,
            offset=offset,
            parent=parent,
        )
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
    if parent is not None:
        parents = (parent[0], [parent[1]])
    wanted = _ids_wanted(where)
    rows: list[dict[str, Any]] | None = None
    scope: list[str] | None = None
    if parents is not None:
        rows = store.rows_by(table, parents[0], parents[1])
        scope = [row["id"] for row in rows]
    elif wanted is not None:
        rows = store.rows_by(table, "id", wanted)
        scope = wanted
    where = _resolve_relations(ctx, table, where, scope)
    if rows is None:
        where_sql, params = _prefilter(store, table, where)
        rows = store.rows(table, where_sql=where_sql, params=params)
    rows = [row for row in rows if bool_exp.matches(row, where, {})]
    ordered = bool_exp.ordered(rows, _order_list(order_by))
    return bool_exp.page(_distinct(ordered, distinct_on), limit, offset)


def _order_list(order_by: Any) -> Any:
    if isinstance(order_by, Mapping):
        return [order_by]
    return order_by


def _table(table: str) -> Resolver:
    def resolve(_root: Any, info: Info, **args: Any) -> list[Mapping[str, Any]]:
        return select(_ctx(info), table, **args)

    return resolve


def _by_pk(table: str) -> Resolver:
    def resolve(_root: Any, info: Info, id: str) -> Any:
        return _ctx(info).row(table, id)

    return resolve


class _Aggregate:
    """Hasura's ``<table>_aggregate { aggregate { count max { .. } min { .. } } }``."""

    def __init__(self, rows: list[Mapping[str, Any]]) -> None:
        self.rows = rows

    def count(self, _info: Info, columns: Any = None, distinct: bool | None = None) -> int:
        if not columns:
            return len(self.rows)
        values = [tuple(row.get(c) for c in columns) for row in self.rows]
        present = [v for v in values if any(x is not None for x in v)]
        return len(set(present)) if distinct else len(present)

    @property
    def max(self) -> Mapping[str, Any]:
        return _Extreme(self.rows, max)

    @property
    def min(self) -> Mapping[str, Any]:
        return _Extreme(self.rows, min)


class _Extreme(dict[str, Any]):
    def __init__(self, rows: list[Mapping[str, Any]], pick: Callable[..., Any]) -> None:
        super().__init__()
        self.rows, self.pick = rows, pick

    def get(self, key: str, default: Any = None) -> Any:
        values = [row[key] for row in self.rows if row.get(key) is not None]
        return self.pick(values) if values else default


def _aggregate(table: str) -> Resolver:
    def resolve(_root: Any, info: Info, **args: Any) -> Any:
        return {"aggregate": _Aggregate(select(_ctx(info), table, **args))}

    return resolve


def _related(table: str, field: str) -> Resolver:
    local, related, column, many = RELATIONS[(table, field)]
    if not many:

        def resolve_one(root: Mapping[str, Any], info: Info) -> Any:
            value = root.get(local)
            if value is None:
                return None
            if column == "id":
                return _ctx(info).row(related, value)
            found = select(_ctx(info), related, parent=(column, value))
            return found[0] if found else None

        return resolve_one

    def resolve_many(root: Mapping[str, Any], info: Info, **args: Any) -> Any:
        value = root.get(local)
        if value is None:
            return []
        return select(_ctx(info), related, parent=(column, value), **args)

    return resolve_many


def _related_aggregate(table: str, field: str) -> Resolver:
    many = _related(table, field)

    def resolve(root: Mapping[str, Any], info: Info, **args: Any) -> Any:
        return {"aggregate": _Aggregate(many(root, info, **args))}

    return resolve


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


def _delete_agent(_root: Any, info: Info, input: Any) -> Any:
    return _success(_ctx(info).store.delete_agent(input["agent_id"]))


def _success(done: bool = True) -> Mapping[str, Any]:
    return {"success": bool(done), "error": None}


# projects and flows


def _create_project(_root: Any, info: Info, input: Any) -> Any:
    store = _ctx(info).store
    return {"id": store.create_project(input["tenant_id"], input["name"], input.get("description"))}


def _delete_project(_root: Any, info: Info, input: Any) -> Any:
    return _success(_ctx(info).store.delete_project(input["project_id"]))


def _set_project_name(_root: Any, info: Info, input: Any) -> Any:
    return {"id": _ctx(info).store.update_project(input["project_id"], name=input["name"])}


def _set_project_description(_root: Any, info: Info, input: Any) -> Any:
    store = _ctx(info).store
    return {"id": store.update_project(input["project_id"], description=input.get("description"))}


def _create_flow(_root: Any, info: Info, input: Any) -> Any:
    flow_id = _ctx(info).store.create_flow(
        input["serialized_flow"],
        project_id=input.get("project_id"),
        version_group_id=input.get("version_group_id"),
        set_schedule_active=input.get("set_schedule_active") is not False,
        description=input.get("description"),
        idempotency_key=input.get("idempotency_key"),
    )
    return {"id": flow_id}


def _create_flow_from_compressed_string(root: Any, info: Info, input: Any) -> Any:
    return _create_flow(
        root, info, {**input, "serialized_flow": registration.decompress(input["serialized_flow"])}
    )


def _register_tasks(_root: Any, info: Info, input: Any) -> Any:
    _ctx(info).store.register_tasks(input["flow_id"], input["serialized_tasks"])
    return _success()


def _register_edges(_root: Any, info: Info, input: Any) -> Any:
    _ctx(info).store.register_edges(input["flow_id"], input["serialized_edges"])
    return _success()


def _flow_operation(operation: str) -> Resolver:
    def resolve(_root: Any, info: Info, input: Any) -> Any:
        return _success(getattr(_ctx(info).store, operation)(input["flow_id"]))

    return resolve


def _update_flow_project(_root: Any, info: Info, input: Any) -> Any:
    return {"id": _ctx(info).store.update_flow_project(input["flow_id"], input["project_id"])}


def _flow_heartbeat(enabled: bool) -> Resolver:
    def resolve(_root: Any, info: Info, input: Any) -> Any:
        return _success(_ctx(info).store.set_flow_heartbeat(input["flow_id"], enabled))

    return resolve


def _flow_group_field(column: str, key: str) -> Resolver:
    def resolve(_root: Any, info: Info, input: Any) -> Any:
        store = _ctx(info).store
        return _success(store.update_flow_group(input["flow_group_id"], **{column: input.get(key)}))

    return resolve


# flow runs and task runs


def _create_flow_run(_root: Any, info: Info, input: Any) -> Any:
    run_id = _ctx(info).store.create_flow_run(
        flow_id=input.get("flow_id"),
        version_group_id=input.get("version_group_id"),
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


def _get_or_create_task_run_info(_root: Any, info: Info, input: Any) -> Any:
    return _ctx(info).store.get_or_create_task_run_info(
        input["flow_run_id"], input["task_id"], input.get("map_index")
    )


def _get_task_run_info(_root: Any, info: Info, task_run_id: str) -> Any:
    return _ctx(info).store.task_run_info(task_run_id)


def _mapped_children(_root: Any, info: Info, task_run_id: str) -> Any:
    return _ctx(info).store.mapped_children(task_run_id)


def _set_flow_run_name(_root: Any, info: Info, input: Any) -> Any:
    return _success(_ctx(info).store.set_flow_run_name(input["flow_run_id"], input["name"]))


def _set_flow_run_labels(_root: Any, info: Info, input: Any) -> Any:
    return _success(_ctx(info).store.set_flow_run_labels(input["flow_run_id"], input["labels"]))


def _set_task_run_name(_root: Any, info: Info, input: Any) -> Any:
    return _success(_ctx(info).store.set_task_run_name(input["task_run_id"], input["name"]))


def _states_payload(ids: list[str]) -> Mapping[str, Any]:
    return {"states": [{"id": i, "status": "SUCCESS", "message": None} for i in ids]}


def _set_flow_run_states(_root: Any, info: Info, input: Any) -> Any:
    ctx = _ctx(info)
    return _states_payload(ctx.store.set_flow_run_states(input["states"], agent_id=ctx.agent_id))


def _set_task_run_states(_root: Any, info: Info, input: Any) -> Any:
    return {"states": _ctx(info).store.set_task_run_states(input["states"])}


def _write_run_logs(_root: Any, info: Info, input: Any) -> Any:
    _ctx(info).store.write_logs(input["logs"])
    return _success()


def _heartbeat(_root: Any, info: Info, input: Any) -> Any:
    _ctx(info).store.heartbeat(input["flow_run_id"])
    return _success()


def _task_run_heartbeat(_root: Any, info: Info, input: Any) -> Any:
    _ctx(info).store.task_run_heartbeat(input["task_run_id"])
    return _success()


def _cancel_flow_run(_root: Any, info: Info, input: Any) -> Any:
    return {"state": _ctx(info).store.cancel_flow_run(input["flow_run_id"])}


def _delete_flow_run(_root: Any, info: Info, input: Any) -> Any:
    return _success(_ctx(info).store.delete_flow_run(input["flow_run_id"]))


# artifacts and task tag limits


def _create_artifact(_root: Any, info: Info, input: Any) -> Any:
    artifact_id = _ctx(info).store.create_task_run_artifact(
        input["task_run_id"], input["kind"], input["data"], input.get("tenant_id")
    )
    return {"id": artifact_id}


def _update_artifact(_root: Any, info: Info, input: Any) -> Any:
    store = _ctx(info).store
    return _success(store.update_task_run_artifact(input["task_run_artifact_id"], input["data"]))


def _delete_artifact(_root: Any, info: Info, input: Any) -> Any:
    return _success(_ctx(info).store.delete_task_run_artifact(input["task_run_artifact_id"]))


def _update_task_tag_limit(_root: Any, info: Info, input: Any) -> Any:
    store = _ctx(info).store
    tenant_id = store.default_tenant_id()
    return {"id": store.update_task_tag_limit(tenant_id, input["tag"], input["limit"])}


def _delete_task_tag_limit(_root: Any, info: Info, input: Any) -> Any:
    return _success(_ctx(info).store.delete_task_tag_limit(input["limit_id"]))


QUERY: Mapping[str, Resolver] = {
    "hello": _hello,
    "auth_info": _auth_info,
    "get_task_run_info": _get_task_run_info,
    "mapped_children": _mapped_children,
    **{table: _table(table) for table in TABLES},
    **{f"{table}_by_pk": _by_pk(table) for table in TABLES},
    **{f"{t}_aggregate": _aggregate(t) for t in ("flow", "flow_run", "task_run", "project")},
}

MUTATION: Mapping[str, Resolver] = {
    "create_tenant": _create_tenant,
    "register_agent": _register_agent,
    "delete_agent": _delete_agent,
    "create_agent_config": _create_agent_config,
    "get_runs_in_queue": _get_runs_in_queue,
    "create_project": _create_project,
    "delete_project": _delete_project,
    "set_project_name": _set_project_name,
    "set_project_description": _set_project_description,
    "create_flow": _create_flow,
    "create_flow_from_compressed_string": _create_flow_from_compressed_string,
    "register_tasks": _register_tasks,
    "register_edges": _register_edges,
    "delete_flow": _flow_operation("delete_flow"),
    "archive_flow": _flow_operation("archive_flow"),
    "update_flow_project": _update_flow_project,
    "disable_flow_heartbeat": _flow_heartbeat(False),
    "enable_flow_heartbeat": _flow_heartbeat(True),
    "set_schedule_active": _flow_operation("set_schedule_active"),
    "set_schedule_inactive": _flow_operation("set_schedule_inactive"),
    "set_flow_group_description": _flow_group_field("description", "description"),
    "set_flow_group_labels": _flow_group_field("labels", "labels"),
    "set_flow_group_run_config": _flow_group_field("run_config", "run_config"),
    "set_flow_group_default_parameters": _flow_group_field("default_parameters", "parameters"),
    "create_flow_run": _create_flow_run,
    "set_flow_run_name": _set_flow_run_name,
    "set_task_run_name": _set_task_run_name,
    "set_flow_run_labels": _set_flow_run_labels,
    "get_or_create_task_run": _get_or_create_task_run,
    "get_or_create_task_run_info": _get_or_create_task_run_info,
    "set_flow_run_states": _set_flow_run_states,
    "set_task_run_states": _set_task_run_states,
    "cancel_flow_run": _cancel_flow_run,
    "delete_flow_run": _delete_flow_run,
    "write_run_logs": _write_run_logs,
    "update_flow_run_heartbeat": _heartbeat,
    "update_task_run_heartbeat": _task_run_heartbeat,
    "create_task_run_artifact": _create_artifact,
    "update_task_run_artifact": _update_artifact,
    "delete_task_run_artifact": _delete_artifact,
    "update_task_tag_limit": _update_task_tag_limit,
    "delete_task_tag_limit": _delete_task_tag_limit,
}

AGGREGATED = frozenset(
    {("project", "flows"), ("flow", "flow_runs"), ("flow_run", "task_runs"),
     ("task", "task_runs"), ("flow_group", "flows")}
)  # fmt: skip


def bind_resolvers(schema: GraphQLSchema) -> None:
    assert schema.query_type is not None and schema.mutation_type is not None
    for name, resolver in QUERY.items():
        schema.query_type.fields[name].resolve = resolver
    for name, resolver in MUTATION.items():
        schema.mutation_type.fields[name].resolve = resolver
    for type_name, field in RELATIONS:
        object_type = schema.type_map[type_name]
        assert isinstance(object_type, GraphQLObjectType)
        object_type.fields[field].resolve = _related(type_name, field)
        if (type_name, field) in AGGREGATED:
            object_type.fields[f"{field}_aggregate"].resolve = _related_aggregate(type_name, field)

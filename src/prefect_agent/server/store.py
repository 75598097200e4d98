"""SQLite storage of the embedded API: one connection, one lock, one transaction per write.

All access goes through one connection guarded by a lock, so writes from the HTTP threads
are serialized and each mutation is atomic (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back
on any error). Files use WAL journaling; ``:memory:`` is for tests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from prefect_agent.domain.labels import LabelPolicy
from prefect_agent.domain.queue_limits import QueueLimits
from prefect_agent.domain.states import SCHEDULED_FAMILY, is_finished, serialized_state
from prefect_agent.server import run_names, timestamps
from prefect_agent.server.errors import NotFound, ServerError
from prefect_agent.server.registration import Registration
from prefect_agent.server.rows import (
    RUNNING_FAMILY,
    new_id,
)
from prefect_agent.server.rows import (
    dump as _dump,
)
from prefect_agent.server.rows import (
    load as _load,
)
from prefect_agent.server.rows import (
    message as _message,
)
from prefect_agent.server.rows import (
    state_start_time as _state_start_time,
)
from prefect_agent.server.rows import (
    state_update as _state_update,
)
from prefect_agent.server.task_runs import TaskRuns

DEFAULT_TENANT = ("default", "default")
"""Name and slug of the tenant created when a server starts without one."""

_FAMILY = tuple(sorted(SCHEDULED_FAMILY))
_FAMILY_SQL = ", ".join("?" for _ in _FAMILY)
_LAZARUS_EXCLUDE = ("Scheduled", "Paused", "Resume", "Retrying", "Running", "Cancelling")
"""Task run states that mean a flow run will move on (Prefect's Scheduled and Running kinds)."""
_LAZARUS_EXCLUDE_SQL = ", ".join("?" for _ in _LAZARUS_EXCLUDE)

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS tenant (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, slug TEXT NOT NULL UNIQUE, created TEXT NOT NULL,
    settings TEXT, info TEXT, updated TEXT
);
CREATE TABLE IF NOT EXISTS agent_config (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), name TEXT,
    settings TEXT, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agent (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), agent_config_id TEXT,
    name TEXT, type TEXT, core_version TEXT, labels TEXT NOT NULL, last_queried TEXT,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS project (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), name TEXT NOT NULL,
    description TEXT, created TEXT NOT NULL, updated TEXT, UNIQUE (tenant_id, name)
);
CREATE TABLE IF NOT EXISTS flow_group (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), name TEXT,
    description TEXT, settings TEXT, default_parameters TEXT, schedule TEXT, labels TEXT,
    run_config TEXT, created TEXT NOT NULL, updated TEXT
);
CREATE TABLE IF NOT EXISTS flow (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), name TEXT NOT NULL,
    version INTEGER, core_version TEXT, storage TEXT, environment TEXT, run_config TEXT,
    description TEXT, idempotency_key TEXT, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS task (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, flow_id TEXT NOT NULL REFERENCES flow(id),
    name TEXT, slug TEXT NOT NULL, description TEXT, type TEXT, max_retries INTEGER,
    retry_delay TEXT, trigger TEXT, tags TEXT, mapped INTEGER NOT NULL DEFAULT 0,
    auto_generated INTEGER NOT NULL DEFAULT 0, cache_key TEXT,
    is_root_task INTEGER NOT NULL DEFAULT 0, is_terminal_task INTEGER NOT NULL DEFAULT 0,
    is_reference_task INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, updated TEXT,
    UNIQUE (flow_id, slug)
);
CREATE TABLE IF NOT EXISTS edge (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, flow_id TEXT NOT NULL REFERENCES flow(id),
    upstream_task_id TEXT NOT NULL, downstream_task_id TEXT NOT NULL, key TEXT,
    mapped INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, updated TEXT,
    UNIQUE (flow_id, upstream_task_id, downstream_task_id, key)
);
CREATE TABLE IF NOT EXISTS flow_run (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id),
    flow_id TEXT NOT NULL REFERENCES flow(id), name TEXT, labels TEXT NOT NULL,
    parameters TEXT, context TEXT, run_config TEXT, version INTEGER NOT NULL,
    state TEXT, state_message TEXT, state_start_time TEXT, state_timestamp TEXT,
    serialized_state TEXT, scheduled_start_time TEXT, start_time TEXT, end_time TEXT,
    heartbeat TEXT, agent_id TEXT, idempotency_key TEXT, created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS flow_run_queue ON flow_run (tenant_id, state, state_start_time);
CREATE UNIQUE INDEX IF NOT EXISTS flow_run_idempotency
    ON flow_run (flow_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS flow_run_state (
    id TEXT PRIMARY KEY, flow_run_id TEXT NOT NULL REFERENCES flow_run(id), version INTEGER,
    state TEXT, message TEXT, serialized_state TEXT, start_time TEXT, timestamp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS flow_run_state_run ON flow_run_state (flow_run_id, version);
CREATE TABLE IF NOT EXISTS task_run (
    id TEXT PRIMARY KEY, flow_run_id TEXT NOT NULL REFERENCES flow_run(id),
    task_id TEXT NOT NULL, map_index INTEGER NOT NULL DEFAULT -1, version INTEGER NOT NULL,
    state TEXT, state_message TEXT, state_start_time TEXT, serialized_state TEXT,
    created TEXT NOT NULL, UNIQUE (flow_run_id, task_id, map_index)
);
CREATE INDEX IF NOT EXISTS task_run_queue ON task_run (flow_run_id, state, state_start_time);
CREATE TABLE IF NOT EXISTS task_run_state (
    id TEXT PRIMARY KEY, task_run_id TEXT NOT NULL REFERENCES task_run(id), tenant_id TEXT,
    version INTEGER, state TEXT, message TEXT, result TEXT, serialized_state TEXT,
    start_time TEXT, timestamp TEXT NOT NULL, created TEXT
);
CREATE INDEX IF NOT EXISTS task_run_state_run ON task_run_state (task_run_id, version);
CREATE TABLE IF NOT EXISTS log (
    id TEXT PRIMARY KEY, flow_run_id TEXT NOT NULL REFERENCES flow_run(id), task_run_id TEXT,
    timestamp TEXT NOT NULL, name TEXT, level TEXT, message TEXT, info TEXT
);
CREATE INDEX IF NOT EXISTS log_run ON log (flow_run_id, timestamp);
CREATE TABLE IF NOT EXISTS task_run_artifact (
    id TEXT PRIMARY KEY, tenant_id TEXT, task_run_id TEXT NOT NULL REFERENCES task_run(id),
    kind TEXT NOT NULL, data TEXT, created TEXT NOT NULL, updated TEXT
);
CREATE TABLE IF NOT EXISTS task_tag_limit (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), tag TEXT NOT NULL,
    "limit" INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT, UNIQUE (tenant_id, tag)
);
"""

ADDED_COLUMNS: Mapping[str, Sequence[tuple[str, str]]] = {
    "flow": (
        ("project_id", "TEXT"),
        ("flow_group_id", "TEXT"),
        ("version_group_id", "TEXT"),
        ("archived", "INTEGER NOT NULL DEFAULT 0"),
        ("schedule", "TEXT"),
        ("is_schedule_active", "INTEGER NOT NULL DEFAULT 0"),
        ("settings", "TEXT"),
        ("serialized_flow", "TEXT"),
        ("parameters", "TEXT"),
        ("updated", "TEXT"),
    ),
    "flow_run": (
        ("auto_scheduled", "INTEGER NOT NULL DEFAULT 0"),
        ("times_resurrected", "INTEGER DEFAULT 0"),
        ("state_result", "TEXT"),
    ),
    "flow_run_state": (("tenant_id", "TEXT"), ("result", "TEXT"), ("created", "TEXT")),
    "task_run": (
        ("tenant_id", "TEXT"),
        ("name", "TEXT"),
        ("cache_key", "TEXT"),
        ("state_timestamp", "TEXT"),
        ("state_result", "TEXT"),
        ("heartbeat", "TEXT"),
        ("start_time", "TEXT"),
        ("end_time", "TEXT"),
        ("updated", "TEXT"),
    ),
    "log": (("tenant_id", "TEXT"), ("created", "TEXT")),
}
"""Columns added after the first release: a database file written before gets them on open."""

INDEXES_SQL = """
CREATE INDEX IF NOT EXISTS flow_group_version ON flow (tenant_id, version_group_id, version);
CREATE INDEX IF NOT EXISTS task_flow ON task (flow_id);
CREATE INDEX IF NOT EXISTS task_run_cache ON task_run (state, cache_key);
CREATE INDEX IF NOT EXISTS task_run_task ON task_run (task_id, state);
CREATE INDEX IF NOT EXISTS flow_run_flow ON flow_run (flow_id, scheduled_start_time);
"""

JSON_COLUMNS: Mapping[str, frozenset[str]] = {
    "tenant": frozenset({"settings", "info"}),
    "agent_config": frozenset({"settings"}),
    "agent": frozenset({"labels"}),
    "project": frozenset(),
    "flow_group": frozenset({"settings", "default_parameters", "schedule", "labels", "run_config"}),
    "flow": frozenset(
        {
            "storage",
            "environment",
            "run_config",
            "schedule",
            "settings",
            "serialized_flow",
            "parameters",
        }
    ),
    "task": frozenset({"tags"}),
    "edge": frozenset(),
    "flow_run": frozenset(
        {"labels", "parameters", "context", "run_config", "serialized_state", "state_result"}
    ),
    "flow_run_state": frozenset({"serialized_state", "result"}),
    "task_run": frozenset({"serialized_state", "state_result"}),
    "task_run_state": frozenset({"serialized_state", "result"}),
    "log": frozenset({"info"}),
    "task_run_artifact": frozenset({"data"}),
    "task_tag_limit": frozenset(),
}
"""Columns stored as JSON text and decoded when read."""

BOOL_COLUMNS: Mapping[str, frozenset[str]] = {
    "flow": frozenset({"archived", "is_schedule_active"}),
    "flow_run": frozenset({"auto_scheduled"}),
    "task": frozenset(
        {"mapped", "auto_generated", "is_root_task", "is_terminal_task", "is_reference_task"}
    ),
    "edge": frozenset({"mapped"}),
}
"""Columns stored as SQLite integers and read as booleans."""

NATURAL_ORDER: Mapping[str, str] = {
    "tenant": "created, rowid",
    "agent_config": "created, rowid",
    "agent": "created, rowid",
    "project": "created, rowid",
    "flow_group": "created, rowid",
    "flow": "created, rowid",
    "task": "created, rowid",
    "edge": "created, rowid",
    "flow_run": "created, rowid",
    "flow_run_state": "version, timestamp, rowid",
    "task_run": "created, rowid",
    "task_run_state": "version, timestamp, rowid",
    "log": "timestamp, rowid",
    "task_run_artifact": "created, rowid",
    "task_tag_limit": "created, rowid",
}


def _decode(table: str, row: sqlite3.Row) -> dict[str, Any]:
    columns = JSON_COLUMNS[table]
    flags = BOOL_COLUMNS.get(table, frozenset())
    decoded = {key: _load(row[key]) if key in columns else row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row iterates values)
    for key in flags:
        if decoded.get(key) is not None:
            decoded[key] = bool(decoded[key])
    return decoded


class Store(Registration, TaskRuns):
    """The embedded API's tables and the operations on them."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 10000")
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            # executescript commits on its own; the DDL is idempotent (IF NOT EXISTS).
            self._conn.executescript(SCHEMA_SQL)
            self._add_missing_columns()
            self._conn.executescript(INDEXES_SQL)
            self.columns: Mapping[str, frozenset[str]] = {
                table: frozenset(
                    row["name"] for row in self._conn.execute(f"PRAGMA table_info({table})")
                )
                for table in JSON_COLUMNS
            }
            """Each table's column names."""

    def _add_missing_columns(self) -> None:
        for table, added in ADDED_COLUMNS.items():
            present = {row["name"] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            for column, declaration in added:
                if column not in present:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything or nothing, never interleaved with another."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    # -- generic reads (the Hasura half) ------------------------------------------------------

    def rows(
        self,
        table: str,
        *,
        where_sql: str = "",
        params: Sequence[Any] = (),
        order_sql: str = "",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Decoded rows of ``table`` ordered by ``order_sql``, then in their natural order
        (creation, or time for logs); ``limit``/``offset`` page them in SQL."""
        order = f"{order_sql}, {NATURAL_ORDER[table]}" if order_sql else NATURAL_ORDER[table]
        sql = f"SELECT * FROM {table}{' WHERE ' + where_sql if where_sql else ''} ORDER BY {order}"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params = (*params, -1 if limit is None else limit, offset)
        with self.reading() as conn:
            return [_decode(table, row) for row in conn.execute(sql, tuple(params))]

    def rows_by(self, table: str, column: str, values: Iterable[str]) -> list[dict[str, Any]]:
        """Rows whose ``column`` is one of ``values`` (chunked under SQLite's variable limit)."""
        values = list(dict.fromkeys(values))
        found: list[dict[str, Any]] = []
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            found.extend(self.rows(table, where_sql=f"{column} IN ({marks})", params=chunk))
        return found

    def row(self, table: str, row_id: str) -> dict[str, Any] | None:
        found = self.rows(table, where_sql="id = ?", params=(row_id,))
        return found[0] if found else None

    # -- tenants, agents, agent configs -----------------------------------------------------

    def create_tenant(self, name: str, slug: str) -> str:
        if not name.strip() or not slug.strip():
            raise ServerError("create_tenant: name and slug must not be empty")
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM tenant WHERE slug = ?", (slug,)).fetchone():
                raise ServerError(f"create_tenant: a tenant with slug {slug!r} already exists")
            tenant_id = new_id()
            conn.execute(
                "INSERT INTO tenant (id, name, slug, created) VALUES (?, ?, ?, ?)",
                (tenant_id, name, slug, timestamps.to_text(timestamps.utc_now())),
            )
            return tenant_id

    def default_tenant_id(self) -> str | None:
        """The first tenant created, as Prefect clients pick the first one listed."""
        with self.reading() as conn:
            found = conn.execute("SELECT id FROM tenant ORDER BY created, rowid LIMIT 1").fetchone()
            return found["id"] if found else None

    def ensure_default_tenant(self) -> str:
        existing = self.default_tenant_id()
        return existing if existing is not None else self.create_tenant(*DEFAULT_TENANT)

    def _check_tenant(self, conn: sqlite3.Connection, tenant_id: str) -> None:
        if not conn.execute("SELECT 1 FROM tenant WHERE id = ?", (tenant_id,)).fetchone():
            raise NotFound(f"No tenant with id {tenant_id}")

    def register_agent(
        self,
        *,
        tenant_id: str | None,
        agent_type: str,
        name: str | None,
        labels: Sequence[str],
        agent_config_id: str | None,
        core_version: str | None,
    ) -> str:
        """The id of the agent with this tenant, name, type, core version and labels.

        As on Prefect Server, an existing agent with the same identity is reused (so replicas
        share one id) and its agent config id is left as it was.
        """
        tenant_id = tenant_id or self.default_tenant_id()
        if tenant_id is None:
            raise ServerError("register_agent: no tenant exists; create one first")
        labels_text = json.dumps(sorted(set(labels)))
        with self.transaction() as conn:
            self._check_tenant(conn, tenant_id)
            if (
                agent_config_id is not None
                and not conn.execute(
                    "SELECT 1 FROM agent_config WHERE id = ?", (agent_config_id,)
                ).fetchone()
            ):
                raise NotFound(f"register_agent: no agent config with id {agent_config_id}")
            found = conn.execute(
                "SELECT id FROM agent WHERE tenant_id = ? AND name IS ? AND type = ? "
                "AND core_version IS ? AND labels = ?",
                (tenant_id, name, agent_type, core_version, labels_text),
            ).fetchone()
            if found:
                return str(found["id"])
            agent_id = new_id()
            conn.execute(
                "INSERT INTO agent (id, tenant_id, agent_config_id, name, type, core_version, "
                "labels, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    agent_id,
                    tenant_id,
                    agent_config_id,
                    name,
                    agent_type,
                    core_version,
                    labels_text,
                    timestamps.to_text(timestamps.utc_now()),
                ),
            )
            return agent_id

    def delete_agent(self, agent_id: str) -> bool:
        with self.transaction() as conn:
            if not conn.execute("DELETE FROM agent WHERE id = ?", (agent_id,)).rowcount:
                raise NotFound(f"delete_agent: no agent with id {agent_id}")
        return True

    def touch_agent(self, agent_id: str, at: datetime) -> None:
        """Record a poll: ``last_queried`` is the agent's liveness signal."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE agent SET last_queried = ? WHERE id = ?", (timestamps.to_text(at), agent_id)
            )

    def create_agent_config(self, tenant_id: str, name: str | None, settings: Any) -> str:
        with self.transaction() as conn:
            self._check_tenant(conn, tenant_id)
            config_id = new_id()
            conn.execute(
                "INSERT INTO agent_config (id, tenant_id, name, settings, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    config_id,
                    tenant_id,
                    name,
                    _dump(settings if settings is not None else {}),
                    timestamps.to_text(timestamps.utc_now()),
                ),
            )
            return config_id

    # -- flow runs -----------------------------------------------------------------------------

    def create_flow_run(
        self,
        *,
        flow_id: str | None = None,
        version_group_id: str | None = None,
        labels: Sequence[str] | None = None,
        run_config: Any = None,
        parameters: Any = None,
        context: Any = None,
        scheduled_start_time: datetime | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
        auto_scheduled: bool = False,
    ) -> str:
        """A new Scheduled run (version 1) of a flow (or of the newest unarchived version of a
        version group), with a Pending task run for each of the flow's tasks, as on Prefect
        Server. Its labels are fixed now: the given labels, else the given run config's, else
        the flow group's labels, else its run config's, else the flow's run config's. Its
        parameters: the flow's defaults, then the flow group's, then the given ones; a required
        parameter left without a value refuses the run."""
        if flow_id is None and version_group_id is None:
            raise ServerError("create_flow_run: one of flow_id or version_group_id is required")
        now = timestamps.utc_now()
        start = timestamps.to_text(scheduled_start_time or now)
        with self.transaction() as conn:
            if flow_id is not None:
                flow = conn.execute("SELECT * FROM flow WHERE id = ?", (flow_id,)).fetchone()
                if flow is None:
                    raise NotFound(f"create_flow_run: no flow with id {flow_id}")
            else:
                flow = conn.execute(
                    "SELECT * FROM flow WHERE version_group_id = ? AND archived = 0 "
                    "ORDER BY version DESC LIMIT 1",
                    (version_group_id,),
                ).fetchone()
                if flow is None:
                    raise NotFound(
                        f"create_flow_run: version group {version_group_id} has no unarchived flows"
                    )
            flow_id = str(flow["id"])
            if flow["archived"]:
                raise ServerError(f"create_flow_run: flow {flow_id} is archived")
            if idempotency_key is not None:
                found = conn.execute(
                    "SELECT id FROM flow_run WHERE flow_id = ? AND idempotency_key = ?",
                    (flow_id, idempotency_key),
                ).fetchone()
                if found:
                    return str(found["id"])
            group = (
                conn.execute(
                    "SELECT * FROM flow_group WHERE id = ?", (flow["flow_group_id"],)
                ).fetchone()
                if flow["flow_group_id"]
                else None
            )
            group_labels = _load(group["labels"]) if group else None
            group_config = _load(group["run_config"]) if group else None
            flow_config = _load(flow["run_config"])
            run_labels = _labels_for(labels, run_config, group_labels, group_config, flow_config)
            if run_config is None:
                run_config = group_config if group_config is not None else flow_config
            run_parameters = _run_parameters(
                flow_id,
                _load(flow["parameters"]) or [],
                (_load(group["default_parameters"]) if group else None) or {},
                parameters or {},
            )
            run_id = new_id()
            state = serialized_state("Scheduled", "Flow run scheduled.", start_time=start)
            conn.execute(
                "INSERT INTO flow_run (id, tenant_id, flow_id, name, labels, parameters, context, "
                "run_config, version, state, state_message, state_start_time, state_timestamp, "
                "serialized_state, scheduled_start_time, idempotency_key, created, updated, "
                "auto_scheduled) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    flow["tenant_id"],
                    flow_id,
                    name or run_names.generate(),
                    json.dumps(run_labels),
                    _dump(run_parameters),
                    _dump(context if context is not None else {}),
                    _dump(run_config),
                    state["type"],
                    state["message"],
                    start,
                    timestamps.to_text(now),
                    json.dumps(state),
                    start,
                    idempotency_key,
                    timestamps.to_text(now),
                    timestamps.to_text(now),
                    int(auto_scheduled),
                ),
            )
            self._record_state(conn, run_id, 1, state, timestamps.to_text(now))
            self._create_task_runs(conn, run_id, flow_id, flow["tenant_id"])
            return run_id

    # -- the queue -----------------------------------------------------------------------------

    def runs_in_queue(
        self,
        tenant_id: str,
        before: datetime,
        labels: Sequence[str],
        limits: QueueLimits,
    ) -> list[str]:
        """Prefect Server's algorithm: the ``limits.scan`` earliest eligible runs of the
        tenant, then the label rule, at most ``limits.returned`` ids. Eligible: a
        Scheduled-family state starting by ``before``, or Running with a task run in a
        Scheduled-family state starting by ``before``."""
        cutoff = timestamps.to_text(before)
        sql = (
            "SELECT id, labels FROM flow_run f WHERE tenant_id = ? AND ("
            f"(state IN ({_FAMILY_SQL}) AND state_start_time <= ?) OR "
            "(state = 'Running' AND EXISTS (SELECT 1 FROM task_run t WHERE "
            f"t.flow_run_id = f.id AND t.state IN ({_FAMILY_SQL}) AND t.state_start_time <= ?)))"
            " ORDER BY state_start_time IS NULL, state_start_time, id LIMIT ?"
        )
        params = (tenant_id, *_FAMILY, cutoff, *_FAMILY, cutoff, limits.scan)
        with self.reading() as conn:
            self._check_tenant(conn, tenant_id)
            rows = conn.execute(sql, params).fetchall()
        ids: list[str] = []
        for row in rows:
            run_labels = _load(row["labels"])
            if isinstance(run_labels, list) and LabelPolicy.matches(run_labels, labels):
                ids.append(row["id"])
                if len(ids) >= limits.returned:
                    break
        return ids

    # -- states and logs -----------------------------------------------------------------------

    def set_flow_run_states(
        self, states: Sequence[Mapping[str, Any]], *, agent_id: str | None = None
    ) -> list[str]:
        """Apply every state or none. A non-null ``version`` must be the run's current one."""
        now = timestamps.to_text(timestamps.utc_now())
        with self.transaction() as conn:
            ids = []
            for item in states:
                run_id = item["flow_run_id"]
                state, row = _state_update(conn, "flow_run", run_id, item)
                version = row["version"] + 1
                start = _state_start_time(state)
                kind = state["type"]
                conn.execute(
                    "UPDATE flow_run SET version = ?, state = ?, state_message = ?, "
                    "state_start_time = ?, state_timestamp = ?, serialized_state = ?, "
                    "updated = ?, heartbeat = CASE WHEN ? THEN ? ELSE heartbeat END, "
                    "start_time = CASE WHEN ? AND start_time IS NULL THEN ? ELSE start_time END, "
                    "end_time = CASE WHEN ? THEN ? ELSE end_time END, agent_id = ? WHERE id = ?",
                    (
                        version,
                        kind,
                        _message(state),
                        start,
                        now,
                        json.dumps(state),
                        now,
                        kind in ("Running", "Submitted"),
                        now,
                        kind == "Running",
                        now,
                        is_finished(kind),
                        now,
                        _agent_for(conn, kind, agent_id, row["agent_id"]),
                        run_id,
                    ),
                )
                self._record_state(conn, run_id, version, state, now, start)
                if kind == "Cancelled":
                    self._cancel_task_runs(conn, run_id, state, now)
                ids.append(run_id)
            return ids

    def set_flow_run_name(self, flow_run_id: str, name: str) -> bool:
        if not name:
            raise ServerError("set_flow_run_name: name must not be empty")
        return self._update_flow_run(flow_run_id, "set_flow_run_name", name=name)

    def set_flow_run_labels(self, flow_run_id: str, labels: Sequence[str]) -> bool:
        labels_text = json.dumps(sorted(set(labels)))
        return self._update_flow_run(flow_run_id, "set_flow_run_labels", labels=labels_text)

    def _update_flow_run(self, flow_run_id: str, what: str, **columns: Any) -> bool:
        with self.transaction() as conn:
            for column, value in columns.items():
                done = conn.execute(
                    f"UPDATE flow_run SET {column} = ?, updated = ? WHERE id = ?",
                    (value, timestamps.to_text(timestamps.utc_now()), flow_run_id),
                ).rowcount
                if not done:
                    raise NotFound(f"{what}: no flow run with id {flow_run_id}")
        return True

    def heartbeat(self, flow_run_id: str) -> None:
        with self.transaction() as conn:
            found = conn.execute(
                "UPDATE flow_run SET heartbeat = ? WHERE id = ?",
                (timestamps.to_text(timestamps.utc_now()), flow_run_id),
            )
            if found.rowcount == 0:
                raise NotFound(f"update_flow_run_heartbeat: no flow run with id {flow_run_id}")

    def resurrect_submitted(
        self, cutoff: str, message: str, attempts: int
    ) -> tuple[list[str], list[str]]:
        """Runs with no heartbeat since ``cutoff`` that nothing will move on: Submitted, or
        Running with task runs of which none is running or waiting to run (as Prefect Server's
        Lazarus; runs without task runs, like the stand-in executor's, may well be busy),
        unless their flow group turned heartbeats or Lazarus off. Each is Scheduled again for
        now, or Failed once rescheduled ``attempts`` times (counted from the state history)."""
        rescheduled: list[str] = []
        failed: list[str] = []
        now = timestamps.to_text(timestamps.utc_now())
        # Holding the (re-entrant) lock keeps the check and the updates one step.
        with self.reading() as conn:
            stuck = conn.execute(
                "SELECT f.id FROM flow_run f LEFT JOIN flow w ON w.id = f.flow_id "
                "LEFT JOIN flow_group g ON g.id = w.flow_group_id "
                "WHERE COALESCE(f.heartbeat, f.state_timestamp) <= ? AND ("
                "f.state = 'Submitted' OR (f.state = 'Running' "
                "AND EXISTS (SELECT 1 FROM task_run t WHERE t.flow_run_id = f.id) "
                "AND NOT EXISTS (SELECT 1 FROM task_run t WHERE t.flow_run_id = f.id "
                f"AND t.state IN ({_LAZARUS_EXCLUDE_SQL})))) "
                "AND COALESCE(json_extract(g.settings, '$.heartbeat_enabled'), 1) != 0 "
                "AND COALESCE(json_extract(g.settings, '$.lazarus_enabled'), 1) != 0",
                (cutoff, *_LAZARUS_EXCLUDE),
            ).fetchall()
            for (run_id,) in stuck:
                (earlier,) = conn.execute(
                    "SELECT COUNT(*) FROM flow_run_state WHERE flow_run_id = ? AND message = ?",
                    (run_id, message),
                ).fetchone()
                if earlier >= attempts:
                    reason = (
                        f"Rescheduled by a Lazarus process {earlier} times and never started; "
                        "marked Failed."
                    )
                    state = {"type": "Failed", "message": reason}
                    failed.append(run_id)
                    level = "ERROR"
                else:
                    state = {"type": "Scheduled", "message": message, "start_time": now}
                    reason = f"{message} This is attempt {earlier + 1}."
                    rescheduled.append(run_id)
                    level = "INFO"
                self.set_flow_run_states([{"flow_run_id": run_id, "state": state}])
                self.write_logs(
                    [{"flow_run_id": run_id, "name": "lazarus", "level": level, "message": reason}]
                )
        return rescheduled, failed

    def cancel_flow_run(self, flow_run_id: str, message: str | None = None) -> str:
        """Cancel a run that has not finished, as Prefect Server does: a Running run becomes
        Cancelling (its flow process sees it and stops), any other Cancelled at once.
        Returns the run's state afterwards."""
        # Holding the (re-entrant) lock makes the check and the update one step.
        with self.reading() as conn:
            row = conn.execute("SELECT state FROM flow_run WHERE id = ?", (flow_run_id,)).fetchone()
            if row is None:
                raise NotFound(f"cancel_flow_run: no flow run with id {flow_run_id}")
            if is_finished(row["state"]):
                return str(row["state"])
            kind = "Cancelling" if row["state"] in RUNNING_FAMILY else "Cancelled"
            default = "Flow run is cancelling" if kind == "Cancelling" else "Flow run is cancelled"
            state = serialized_state(kind, message or default)
            self.set_flow_run_states([{"flow_run_id": flow_run_id, "state": state}])
            return kind

    def write_logs(self, logs: Sequence[Mapping[str, Any]]) -> int:
        """Store every record or none; a record naming an unknown flow run refuses the batch."""
        now = timestamps.utc_now()
        with self.transaction() as conn:
            run_ids = {log["flow_run_id"] for log in logs}
            known = {
                row["id"]
                for start in range(0, len(run_ids), 500)
                for row in conn.execute(
                    "SELECT id FROM flow_run WHERE id IN ("
                    + ", ".join("?" for _ in list(run_ids)[start : start + 500])
                    + ")",
                    list(run_ids)[start : start + 500],
                )
            }
            unknown = sorted(run_ids - known)
            if unknown:
                raise NotFound(f"write_run_logs: no flow run with id {', '.join(unknown)}")
            conn.executemany(
                "INSERT INTO log (id, flow_run_id, task_run_id, timestamp, name, level, message, "
                "info) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        new_id(),
                        log["flow_run_id"],
                        log.get("task_run_id"),
                        timestamps.to_text(log.get("timestamp") or now),
                        log.get("name"),
                        log.get("level") or "INFO",
                        log.get("message"),
                        _dump(log.get("info")),
                    )
                    for log in logs
                ],
            )
            return len(logs)

    def _record_state(
        self,
        conn: sqlite3.Connection,
        run_id: str,
        version: int,
        state: Mapping[str, Any],
        now: str,
        start: str | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO flow_run_state (id, flow_run_id, version, state, message, "
            "serialized_state, start_time, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new_id(),
                run_id,
                version,
                state["type"],
                _message(state),
                json.dumps(state),
                start if start is not None else _state_start_time(state),
                now,
            ),
        )


def _agent_for(
    conn: sqlite3.Connection, kind: str, agent_id: str | None, current: str | None
) -> str | None:
    """A Submitted state records the submitting agent (when it is a known agent)."""
    if kind != "Submitted" or agent_id is None:
        return current
    known = conn.execute("SELECT 1 FROM agent WHERE id = ?", (agent_id,)).fetchone()
    return agent_id if known else current


def _labels_for(
    labels: Sequence[str] | None,
    run_config: Any,
    group_labels: Any,
    group_config: Any,
    flow_config: Any,
) -> list[str]:
    candidates = (
        labels,
        _config_labels(run_config, run_config is not None),
        group_labels if isinstance(group_labels, list) else None,
        _config_labels(group_config, group_config is not None),
        _config_labels(flow_config, flow_config is not None),
    )
    for candidate in candidates:
        if candidate is not None:
            return sorted(set(candidate))
    return []


def _run_parameters(
    flow_id: str,
    declared: Sequence[Any],
    group_defaults: Mapping[str, Any],
    given: Mapping[str, Any],
) -> dict[str, Any]:
    """Parameter values of a new run: flow defaults < flow group defaults < given values."""
    values: dict[str, Any] = {
        p["name"]: p.get("default")
        for p in declared
        if isinstance(p, dict) and p.get("default") is not None
    }
    values.update(group_defaults)
    values.update(given)
    required = {p["name"] for p in declared if isinstance(p, dict) and p.get("required")}
    missing = sorted(required - set(values))
    if missing:
        raise ServerError(
            f"create_flow_run: flow {flow_id} requires parameter(s) {', '.join(missing)}"
        )
    return values


def _config_labels(run_config: Any, present: bool) -> list[str] | None:
    """A run config's labels; a run config without any gives none (not "look further")."""
    if not present:
        return None
    if isinstance(run_config, dict) and isinstance(run_config.get("labels"), list):
        return [str(label) for label in run_config["labels"]]
    return []

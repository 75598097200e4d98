"""SQLite storage of the embedded API: one connection, one lock, one transaction per write.

All access goes through one connection guarded by a lock, so writes from the HTTP threads
are serialized and each mutation is atomic (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back
on any error). Files use WAL journaling; ``:memory:`` is for tests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from prefect_agent.domain.labels import LabelPolicy
from prefect_agent.domain.states import SCHEDULED_FAMILY, is_finished, serialized_state
from prefect_agent.server import timestamps
from prefect_agent.server.errors import NotFound, ServerError, VersionLocked
from prefect_agent.server.queue_limits import QueueLimits

MAX_STATE_BYTES = 1_000_000
"""A serialized state larger than this is refused (as on Prefect Server)."""

DEFAULT_TENANT = ("default", "default")
"""Name and slug of the tenant created when a server starts without one."""

_FAMILY = tuple(sorted(SCHEDULED_FAMILY))
_FAMILY_SQL = ", ".join("?" for _ in _FAMILY)

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS tenant (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, slug TEXT NOT NULL UNIQUE, created TEXT NOT NULL
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
CREATE TABLE IF NOT EXISTS flow (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), name TEXT NOT NULL,
    version INTEGER, core_version TEXT, storage TEXT, environment TEXT, run_config TEXT,
    description TEXT, idempotency_key TEXT, created TEXT NOT NULL
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
CREATE TABLE IF NOT EXISTS log (
    id TEXT PRIMARY KEY, flow_run_id TEXT NOT NULL REFERENCES flow_run(id), task_run_id TEXT,
    timestamp TEXT NOT NULL, name TEXT, level TEXT, message TEXT, info TEXT
);
CREATE INDEX IF NOT EXISTS log_run ON log (flow_run_id, timestamp);
"""

JSON_COLUMNS: Mapping[str, frozenset[str]] = {
    "tenant": frozenset(),
    "agent_config": frozenset({"settings"}),
    "agent": frozenset({"labels"}),
    "flow": frozenset({"storage", "environment", "run_config"}),
    "flow_run": frozenset({"labels", "parameters", "context", "run_config", "serialized_state"}),
    "flow_run_state": frozenset({"serialized_state"}),
    "task_run": frozenset({"serialized_state"}),
    "log": frozenset({"info"}),
}
"""Columns stored as JSON text and decoded when read."""

NATURAL_ORDER: Mapping[str, str] = {
    "tenant": "created, rowid",
    "agent_config": "created, rowid",
    "agent": "created, rowid",
    "flow": "created, rowid",
    "flow_run": "created, rowid",
    "flow_run_state": "version, timestamp, rowid",
    "task_run": "created, rowid",
    "log": "timestamp, rowid",
}


def new_id() -> str:
    return str(uuid.uuid4())


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _load(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        # A row written by something else: hand the raw text back rather than fail the query.
        return text


def _decode(table: str, row: sqlite3.Row) -> dict[str, Any]:
    columns = JSON_COLUMNS[table]
    return {key: _load(row[key]) if key in columns else row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row iterates values)


def _state_start_time(state: Mapping[str, Any]) -> str | None:
    """The start time of a Scheduled-family state; other states have none."""
    if state.get("type") not in SCHEDULED_FAMILY:
        return None
    start = state.get("start_time")
    if start is None:
        return None
    try:
        return timestamps.normalize(start)
    except ValueError as exc:
        raise ServerError(f"state start_time: {exc}") from None


def _check_state(state: Any, what: str) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise ServerError(f"{what}: state must be a JSON object, not {type(state).__name__}")
    if not isinstance(state.get("type"), str) or not state["type"]:
        raise ServerError(f"{what}: state must have a string 'type' (e.g. 'Running')")
    if len(json.dumps(state)) > MAX_STATE_BYTES:
        raise ServerError(f"{what}: serialized state exceeds {MAX_STATE_BYTES} bytes")
    return state


class Store:
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
            self.columns: Mapping[str, frozenset[str]] = {
                table: frozenset(
                    row["name"] for row in self._conn.execute(f"PRAGMA table_info({table})")
                )
                for table in JSON_COLUMNS
            }
            """Each table's column names."""

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

    # -- flows and flow runs -------------------------------------------------------------------

    def create_flow(
        self,
        serialized_flow: Any,
        *,
        tenant_id: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        if not isinstance(serialized_flow, dict):
            raise ServerError("create_flow: serialized_flow must be a JSON object")
        name = serialized_flow.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ServerError("create_flow: serialized_flow must have a non-empty 'name'")
        tenant_id = tenant_id or self.default_tenant_id()
        if tenant_id is None:
            raise ServerError("create_flow: no tenant exists; create one first")
        with self.transaction() as conn:
            self._check_tenant(conn, tenant_id)
            if idempotency_key is not None:
                found = conn.execute(
                    "SELECT id FROM flow WHERE tenant_id = ? AND name = ? AND idempotency_key = ?",
                    (tenant_id, name, idempotency_key),
                ).fetchone()
                if found:
                    return str(found["id"])
            previous = conn.execute(
                "SELECT MAX(version) AS v FROM flow WHERE tenant_id = ? AND name = ?",
                (tenant_id, name),
            ).fetchone()["v"]
            flow_id = new_id()
            conn.execute(
                "INSERT INTO flow (id, tenant_id, name, version, core_version, storage, "
                "environment, run_config, description, idempotency_key, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    flow_id,
                    tenant_id,
                    name,
                    (previous or 0) + 1,
                    serialized_flow.get("__version__"),
                    _dump(serialized_flow.get("storage")),
                    _dump(serialized_flow.get("environment")),
                    _dump(serialized_flow.get("run_config")),
                    description,
                    idempotency_key,
                    timestamps.to_text(timestamps.utc_now()),
                ),
            )
            return flow_id

    def create_flow_run(
        self,
        *,
        flow_id: str,
        labels: Sequence[str] | None = None,
        run_config: Any = None,
        parameters: Any = None,
        context: Any = None,
        scheduled_start_time: datetime | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """A new Scheduled run (version 1), its labels fixed now as Prefect Server fixes them:
        the given labels, else the given run config's, else the flow's run config's, else none.
        """
        now = timestamps.utc_now()
        start = timestamps.to_text(scheduled_start_time or now)
        with self.transaction() as conn:
            flow = conn.execute("SELECT * FROM flow WHERE id = ?", (flow_id,)).fetchone()
            if flow is None:
                raise NotFound(f"create_flow_run: no flow with id {flow_id}")
            if idempotency_key is not None:
                found = conn.execute(
                    "SELECT id FROM flow_run WHERE flow_id = ? AND idempotency_key = ?",
                    (flow_id, idempotency_key),
                ).fetchone()
                if found:
                    return str(found["id"])
            flow_run_config = _load(flow["run_config"])
            if run_config is None:
                run_config = flow_run_config
            run_labels = _labels_for(labels, run_config, flow_run_config)
            run_id = new_id()
            state = serialized_state("Scheduled", "Flow run scheduled.", start_time=start)
            conn.execute(
                "INSERT INTO flow_run (id, tenant_id, flow_id, name, labels, parameters, context, "
                "run_config, version, state, state_message, state_start_time, state_timestamp, "
                "serialized_state, scheduled_start_time, idempotency_key, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    flow["tenant_id"],
                    flow_id,
                    name or f"{flow['name']}-{run_id[:8]}",
                    json.dumps(run_labels),
                    _dump(parameters if parameters is not None else {}),
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
                ),
            )
            self._record_state(conn, run_id, 1, state, timestamps.to_text(now))
            return run_id

    def get_or_create_task_run(self, flow_run_id: str, task_id: str, map_index: int) -> str:
        with self.transaction() as conn:
            if not conn.execute("SELECT 1 FROM flow_run WHERE id = ?", (flow_run_id,)).fetchone():
                raise NotFound(f"get_or_create_task_run: no flow run with id {flow_run_id}")
            found = conn.execute(
                "SELECT id FROM task_run WHERE flow_run_id = ? AND task_id = ? AND map_index = ?",
                (flow_run_id, task_id, map_index),
            ).fetchone()
            if found:
                return str(found["id"])
            task_run_id = new_id()
            state = {"type": "Pending", "message": None}
            conn.execute(
                "INSERT INTO task_run (id, flow_run_id, task_id, map_index, version, state, "
                "serialized_state, created) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    task_run_id,
                    flow_run_id,
                    task_id,
                    map_index,
                    state["type"],
                    json.dumps(state),
                    timestamps.to_text(timestamps.utc_now()),
                ),
            )
            return task_run_id

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
                ids.append(run_id)
            return ids

    def set_task_run_states(self, states: Sequence[Mapping[str, Any]]) -> list[str]:
        with self.transaction() as conn:
            ids = []
            for item in states:
                task_run_id = item["task_run_id"]
                state, row = _state_update(conn, "task_run", task_run_id, item)
                conn.execute(
                    "UPDATE task_run SET version = ?, state = ?, state_message = ?, "
                    "state_start_time = ?, serialized_state = ? WHERE id = ?",
                    (
                        row["version"] + 1,
                        state["type"],
                        _message(state),
                        _state_start_time(state),
                        json.dumps(state),
                        task_run_id,
                    ),
                )
                ids.append(task_run_id)
            return ids

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
        """Runs Submitted with no heartbeat since ``cutoff``: Scheduled again for now, or Failed
        once they were rescheduled ``attempts`` times (counted from the state history)."""
        rescheduled: list[str] = []
        failed: list[str] = []
        now = timestamps.to_text(timestamps.utc_now())
        # Holding the (re-entrant) lock keeps the check and the updates one step.
        with self.reading() as conn:
            stuck = conn.execute(
                "SELECT id FROM flow_run WHERE state = 'Submitted' "
                "AND COALESCE(heartbeat, state_timestamp) <= ?",
                (cutoff,),
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

    def cancel_flow_run(self, flow_run_id: str) -> str:
        """Cancel a run that has not finished; returns its state afterwards."""
        # Holding the (re-entrant) lock makes the check and the update one step.
        with self.reading() as conn:
            row = conn.execute("SELECT state FROM flow_run WHERE id = ?", (flow_run_id,)).fetchone()
            if row is None:
                raise NotFound(f"cancel_flow_run: no flow run with id {flow_run_id}")
            if is_finished(row["state"]):
                return str(row["state"])
            state = {"type": "Cancelled", "message": "Flow run was cancelled."}
            self.set_flow_run_states([{"flow_run_id": flow_run_id, "state": state}])
            return "Cancelled"

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


def _state_update(
    conn: sqlite3.Connection, table: str, row_id: str, item: Mapping[str, Any]
) -> tuple[dict[str, Any], sqlite3.Row]:
    """The checked new state and the current row of a flow or task run about to change.

    Raises ``NotFound`` for an unknown id and ``VersionLocked`` for a stale ``version``.
    """
    what = f"State update failed for {table.replace('_', ' ')} {row_id}"
    state = _check_state(item["state"], what)
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        raise NotFound(f"{what}: no {table.replace('_', ' ')} with this id")
    wanted, current = item.get("version"), row["version"]
    if wanted is not None and wanted != current:
        raise VersionLocked(f"{what}: provided version {wanted} but current version is {current}")
    return state, row


def _message(state: Mapping[str, Any]) -> str | None:
    message = state.get("message")
    return message if isinstance(message, str) else None


def _agent_for(
    conn: sqlite3.Connection, kind: str, agent_id: str | None, current: str | None
) -> str | None:
    """A Submitted state records the submitting agent (when it is a known agent)."""
    if kind != "Submitted" or agent_id is None:
        return current
    known = conn.execute("SELECT 1 FROM agent WHERE id = ?", (agent_id,)).fetchone()
    return agent_id if known else current


def _labels_for(labels: Sequence[str] | None, run_config: Any, flow_run_config: Any) -> list[str]:
    for candidate in (labels, _config_labels(run_config), _config_labels(flow_run_config)):
        if candidate is not None:
            return sorted(set(candidate))
    return []


def _config_labels(run_config: Any) -> list[str] | None:
    if isinstance(run_config, dict) and isinstance(run_config.get("labels"), list):
        return [str(label) for label in run_config["labels"]]
    return None

"""Projects, flows, their tasks and edges, flow groups and schedules, as Prefect Server keeps
them: what ``prefect create project``, ``flow.register()`` and ``prefect register`` send.

A flow belongs to a project and a version group (its flow group): registering a flow with the
name of one already in the project adds a version to that group and archives the others.
A mixin of ``Store``: it uses the store's connection, lock and transactions.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from prefect_agent.server import timestamps
from prefect_agent.server.errors import NotFound, ServerError
from prefect_agent.server.rows import dump, load, new_id

DEFAULT_PROJECT = "default"
"""The project of flows created without one (by the agent's own helpers and tests)."""

UNIQUENESS_VIOLATION = "Uniqueness violation."
"""Prefect 1.4.1's ``create_project`` recognises an existing project by this message."""

FLOW_GROUP_SETTINGS = {
    "heartbeat_enabled": True,
    "lazarus_enabled": True,
    "version_locking_enabled": False,
}


def decompress(text: str) -> Any:
    """The JSON that Prefect's ``compress()`` packed (gzip, then base64)."""
    try:
        return json.loads(gzip.decompress(base64.b64decode(text, validate=True)))
    except (binascii.Error, OSError, EOFError, ValueError) as exc:
        raise ServerError(
            f"create_flow_from_compressed_string: serialized_flow is not a gzipped, "
            f"base64-encoded JSON document ({type(exc).__name__})"
        ) from None


def _interval_text(seconds: Any) -> str | None:
    """A retry delay (seconds, as Prefect serializes it) as PostgreSQL prints an interval."""
    if seconds is None:
        return None
    if not isinstance(seconds, int | float):
        raise ServerError(f"register_tasks: retry_delay must be seconds, got {seconds!r}")
    delta = timedelta(seconds=seconds)
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return text + (f".{delta.microseconds:06d}" if delta.microseconds else "")


def _slug(ref: Any) -> Any:
    return ref.get("slug") if isinstance(ref, dict) else ref


def _trigger(value: Any) -> Any:
    return value.get("fn") if isinstance(value, dict) else value


class Registration:
    """Project and flow operations (mixed into ``Store``)."""

    transaction: Any
    reading: Any
    default_tenant_id: Any
    _check_tenant: Any
    create_flow_run: Any
    cancel_flow_run: Any

    # -- projects --------------------------------------------------------------------------

    def create_project(self, tenant_id: str | None, name: str, description: str | None) -> str:
        if not name or not name.strip():
            raise ServerError("create_project: name must not be empty")
        tenant_id = tenant_id or self.default_tenant_id()
        with self.transaction() as conn:
            self._check_tenant(conn, tenant_id)
            return self._insert_project(conn, tenant_id, name, description)

    def _insert_project(
        self, conn: sqlite3.Connection, tenant_id: str, name: str, description: str | None
    ) -> str:
        if conn.execute(
            "SELECT 1 FROM project WHERE tenant_id = ? AND name = ?", (tenant_id, name)
        ).fetchone():
            raise ServerError(UNIQUENESS_VIOLATION)
        project_id = new_id()
        now = timestamps.to_text(timestamps.utc_now())
        conn.execute(
            "INSERT INTO project (id, tenant_id, name, description, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (project_id, tenant_id, name, description, now, now),
        )
        return project_id

    def _default_project(self, conn: sqlite3.Connection, tenant_id: str) -> str:
        found = conn.execute(
            "SELECT id FROM project WHERE tenant_id = ? AND name = ?", (tenant_id, DEFAULT_PROJECT)
        ).fetchone()
        if found:
            return str(found["id"])
        return self._insert_project(conn, tenant_id, DEFAULT_PROJECT, None)

    def update_project(self, project_id: str, **fields: Any) -> str:
        """Set a project's ``name`` or ``description``."""
        if "name" in fields and not (fields["name"] or "").strip():
            raise ServerError("set_project_name: name must not be empty")
        with self.transaction() as conn:
            project = conn.execute(
                "SELECT tenant_id FROM project WHERE id = ?", (project_id,)
            ).fetchone()
            if project is None:
                raise NotFound(f"No project with id {project_id}")
            if (
                "name" in fields
                and conn.execute(
                    "SELECT 1 FROM project WHERE tenant_id = ? AND name = ? AND id != ?",
                    (project["tenant_id"], fields["name"], project_id),
                ).fetchone()
            ):
                raise ServerError(UNIQUENESS_VIOLATION)
            for column, value in fields.items():
                conn.execute(
                    f"UPDATE project SET {column} = ?, updated = ? WHERE id = ?",
                    (value, timestamps.to_text(timestamps.utc_now()), project_id),
                )
        return project_id

    def delete_project(self, project_id: str) -> bool:
        """Delete a project with its flows and their runs."""
        with self.reading() as conn:
            flows = [
                row["id"]
                for row in conn.execute("SELECT id FROM flow WHERE project_id = ?", (project_id,))
            ]
            for flow_id in flows:
                self.delete_flow(flow_id)
            with self.transaction() as tx:
                done = tx.execute("DELETE FROM project WHERE id = ?", (project_id,)).rowcount
        if not done:
            raise NotFound(f"delete_project: no project with id {project_id}")
        return True

    # -- flows -----------------------------------------------------------------------------

    def create_flow(
        self,
        serialized_flow: Any,
        *,
        tenant_id: str | None = None,
        project_id: str | None = None,
        version_group_id: str | None = None,
        set_schedule_active: bool = True,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Register a flow: a new version in its version group (found by ``version_group_id``
        or by project and name), the group's other versions archived, its tasks and edges
        registered, its schedule turned on when asked and the flow has one."""
        flow = _checked_flow(serialized_flow)
        with self.transaction() as conn:
            if project_id is not None:
                project = conn.execute(
                    "SELECT tenant_id FROM project WHERE id = ?", (project_id,)
                ).fetchone()
                if project is None:
                    raise NotFound(f"create_flow: no project with id {project_id}")
                tenant_id = str(project["tenant_id"])
            else:
                tenant_id = tenant_id or self.default_tenant_id()
                if tenant_id is None:
                    raise ServerError("create_flow: no tenant exists; create one first")
                self._check_tenant(conn, tenant_id)
                project_id = self._default_project(conn, tenant_id)
                # Flows created without a project (the agent's helpers, not Prefect) are each
                # their own flow: a later one of the same name does not archive them.
                version_group_id = version_group_id or new_id()
            flow_id, existing = self._insert_flow(
                conn, flow, tenant_id, project_id, version_group_id, description, idempotency_key
            )
            if existing:
                return flow_id
            self._insert_tasks(conn, flow_id, tenant_id, flow.get("tasks") or [])
            self._insert_edges(conn, flow_id, tenant_id, flow.get("edges") or [])
            others = conn.execute(
                "SELECT id FROM flow WHERE version_group_id = ? AND tenant_id = ? AND id != ? "
                "AND archived = 0",
                (flow_id_group(conn, flow_id), tenant_id, flow_id),
            ).fetchall()
        for other in others:
            self.archive_flow(other["id"])
        if set_schedule_active and flow.get("schedule") is not None:
            self.set_schedule_active(flow_id)
        return flow_id

    def _insert_flow(
        self,
        conn: sqlite3.Connection,
        flow: Mapping[str, Any],
        tenant_id: str,
        project_id: str,
        version_group_id: str | None,
        description: str | None,
        idempotency_key: str | None,
    ) -> tuple[str, bool]:
        """(flow id, whether it is an existing flow the idempotency key points to)."""
        name = flow["name"]
        if not version_group_id:
            # Same name in the same project: a new version of that flow.
            found = conn.execute(
                "SELECT version_group_id FROM flow WHERE project_id = ? AND name = ? "
                "ORDER BY created DESC, rowid DESC LIMIT 1",
                (project_id, name),
            ).fetchone()
            version_group_id = found["version_group_id"] if found else new_id()
        now = timestamps.to_text(timestamps.utc_now())
        group = conn.execute(
            "SELECT id, settings FROM flow_group WHERE tenant_id = ? AND name = ?",
            (tenant_id, version_group_id),
        ).fetchone()
        if group is None:
            group_id = new_id()
            conn.execute(
                "INSERT INTO flow_group (id, tenant_id, name, settings, default_parameters, "
                "created, updated) VALUES (?, ?, ?, ?, '{}', ?, ?)",
                (
                    group_id,
                    tenant_id,
                    version_group_id,
                    json.dumps({**FLOW_GROUP_SETTINGS, "idempotency_key": idempotency_key}),
                    now,
                    now,
                ),
            )
        else:
            group_id = group["id"]
            settings = load(group["settings"]) or {}
            if idempotency_key and settings.get("idempotency_key") == idempotency_key:
                newest = conn.execute(
                    "SELECT id FROM flow WHERE version_group_id = ? AND archived = 0 "
                    "ORDER BY version DESC LIMIT 1",
                    (version_group_id,),
                ).fetchone()
                if newest:
                    return str(newest["id"]), True
            settings["idempotency_key"] = idempotency_key
            conn.execute(
                "UPDATE flow_group SET settings = ?, updated = ? WHERE id = ?",
                (json.dumps(settings), now, group_id),
            )
        (previous,) = conn.execute(
            "SELECT MAX(version) FROM flow WHERE version_group_id = ? AND tenant_id = ?",
            (version_group_id, tenant_id),
        ).fetchone()
        stored = {key: value for key, value in flow.items() if key not in ("tasks", "edges")}
        flow_id = new_id()
        conn.execute(
            "INSERT INTO flow (id, tenant_id, project_id, flow_group_id, version_group_id, name, "
            "version, core_version, storage, environment, run_config, parameters, schedule, "
            "is_schedule_active, archived, settings, serialized_flow, description, "
            "idempotency_key, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '{}', ?, ?, ?, ?, ?)",
            (
                flow_id,
                tenant_id,
                project_id,
                group_id,
                version_group_id,
                name,
                (previous or 0) + 1,
                flow.get("__version__"),
                dump(flow.get("storage")),
                dump(flow.get("environment")),
                dump(flow.get("run_config")),
                json.dumps(flow.get("parameters") or []),
                dump(flow.get("schedule")),
                json.dumps({**stored, "tasks": []}),
                description,
                idempotency_key,
                now,
                now,
            ),
        )
        return flow_id, False

    def register_tasks(self, flow_id: str, tasks: Any) -> None:
        if not isinstance(tasks, list):
            raise ServerError("register_tasks: serialized_tasks must be a list")
        with self.transaction() as conn:
            tenant_id = _flow_tenant(conn, flow_id, "register_tasks")
            self._insert_tasks(conn, flow_id, tenant_id, tasks)

    def register_edges(self, flow_id: str, edges: Any) -> None:
        if not isinstance(edges, list):
            raise ServerError("register_edges: serialized_edges must be a list")
        with self.transaction() as conn:
            tenant_id = _flow_tenant(conn, flow_id, "register_edges")
            self._insert_edges(conn, flow_id, tenant_id, edges)

    def _insert_tasks(
        self, conn: sqlite3.Connection, flow_id: str, tenant_id: str, tasks: Sequence[Any]
    ) -> None:
        now = timestamps.to_text(timestamps.utc_now())
        rows = []
        for task in tasks:
            if not isinstance(task, dict) or not isinstance(task.get("slug"), str):
                raise ServerError(f"register_tasks: every task needs a 'slug', got {task!r:.200}")
            rows.append(
                (
                    new_id(),
                    tenant_id,
                    flow_id,
                    task.get("name"),
                    task["slug"],
                    task.get("description"),
                    task.get("type"),
                    task.get("max_retries") or 0,
                    _interval_text(task.get("retry_delay")),
                    _trigger(task.get("trigger")),
                    json.dumps(task.get("tags") or []),
                    int(bool(task.get("auto_generated"))),
                    task.get("cache_key"),
                    now,
                    now,
                )
            )
        conn.executemany(
            "INSERT OR IGNORE INTO task (id, tenant_id, flow_id, name, slug, description, type, "
            "max_retries, retry_delay, trigger, tags, auto_generated, cache_key, created, "
            "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        # As on Server, the flow's serialized form lists every task registered with it.
        serialized = (
            load(
                conn.execute(
                    "SELECT serialized_flow FROM flow WHERE id = ?", (flow_id,)
                ).fetchone()[0]
            )
            or {}
        )
        known = {t.get("slug") for t in serialized.get("tasks") or []}
        serialized["tasks"] = list(serialized.get("tasks") or []) + [
            t for t in tasks if t["slug"] not in known
        ]
        conn.execute(
            "UPDATE flow SET serialized_flow = ? WHERE id = ?", (json.dumps(serialized), flow_id)
        )
        _update_task_roles(conn, flow_id, serialized)

    def _insert_edges(
        self, conn: sqlite3.Connection, flow_id: str, tenant_id: str, edges: Sequence[Any]
    ) -> None:
        ids = {
            row["slug"]: row["id"]
            for row in conn.execute("SELECT id, slug FROM task WHERE flow_id = ?", (flow_id,))
        }
        now = timestamps.to_text(timestamps.utc_now())
        rows = []
        for edge in edges:
            if not isinstance(edge, dict):
                raise ServerError(f"register_edges: an edge must be an object, got {edge!r:.200}")
            up, down = _slug(edge.get("upstream_task")), _slug(edge.get("downstream_task"))
            if up not in ids or down not in ids:
                raise ServerError(
                    "register_edges: edges reference tasks that do not exist within this flow "
                    f"({up!r} -> {down!r})"
                )
            rows.append(
                (new_id(), tenant_id, flow_id, ids[up], ids[down], edge.get("key"),
                 int(bool(edge.get("mapped"))), now, now)
            )  # fmt: skip
        conn.executemany(
            "INSERT OR IGNORE INTO edge (id, tenant_id, flow_id, upstream_task_id, "
            "downstream_task_id, key, mapped, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        serialized = load(
            conn.execute("SELECT serialized_flow FROM flow WHERE id = ?", (flow_id,)).fetchone()[0]
        )
        _update_task_roles(conn, flow_id, serialized or {})

    def archive_flow(self, flow_id: str) -> bool:
        """Archive a flow: it can no longer run; its auto-scheduled runs that have not started
        are deleted and its other Scheduled runs cancelled."""
        with self.transaction() as conn:
            done = conn.execute(
                "UPDATE flow SET archived = 1, updated = ? WHERE id = ?",
                (timestamps.to_text(timestamps.utc_now()), flow_id),
            ).rowcount
            if not done:
                return False
            _delete_auto_scheduled(conn, flow_id)
            ad_hoc = [
                row["id"]
                for row in conn.execute(
                    "SELECT id FROM flow_run WHERE flow_id = ? AND state = 'Scheduled'", (flow_id,)
                )
            ]
        for run_id in ad_hoc:
            self.cancel_flow_run(run_id, f"Flow {flow_id} was archived.")
        return True

    def delete_flow(self, flow_id: str) -> bool:
        with self.transaction() as conn:
            runs = [
                row["id"]
                for row in conn.execute("SELECT id FROM flow_run WHERE flow_id = ?", (flow_id,))
            ]
            for run_id in runs:
                delete_flow_run_rows(conn, run_id)
            conn.execute("DELETE FROM edge WHERE flow_id = ?", (flow_id,))
            conn.execute("DELETE FROM task WHERE flow_id = ?", (flow_id,))
            return bool(conn.execute("DELETE FROM flow WHERE id = ?", (flow_id,)).rowcount)

    def delete_flow_run(self, flow_run_id: str) -> bool:
        with self.transaction() as conn:
            return delete_flow_run_rows(conn, flow_run_id)

    def update_flow_project(self, flow_id: str, project_id: str) -> str:
        with self.transaction() as conn:
            flow = conn.execute("SELECT tenant_id FROM flow WHERE id = ?", (flow_id,)).fetchone()
            project = conn.execute(
                "SELECT tenant_id FROM project WHERE id = ?", (project_id,)
            ).fetchone()
            if flow is None or project is None or flow["tenant_id"] != project["tenant_id"]:
                raise ServerError("update_flow_project: invalid flow or project id")
            conn.execute("UPDATE flow SET project_id = ? WHERE id = ?", (project_id, flow_id))
        return flow_id

    # -- flow groups and schedules ---------------------------------------------------------

    def update_flow_group(self, flow_group_id: str, **fields: Any) -> bool:
        """Set flow group columns (labels, run_config, default_parameters, description)."""
        with self.transaction() as conn:
            if not conn.execute(
                "SELECT 1 FROM flow_group WHERE id = ?", (flow_group_id,)
            ).fetchone():
                raise NotFound(f"No flow group with id {flow_group_id}")
            for column, value in fields.items():
                stored = value if column == "description" else dump(value)
                if column == "labels" and value is not None:
                    stored = json.dumps(sorted(set(value)))
                conn.execute(
                    f"UPDATE flow_group SET {column} = ?, updated = ? WHERE id = ?",
                    (stored, timestamps.to_text(timestamps.utc_now()), flow_group_id),
                )
        return True

    def set_flow_heartbeat(self, flow_id: str, enabled: bool) -> bool:
        with self.transaction() as conn:
            flow = conn.execute(
                "SELECT flow_group_id FROM flow WHERE id = ?", (flow_id,)
            ).fetchone()
            if flow is None:
                raise NotFound(f"No flow with id {flow_id}")
            group = conn.execute(
                "SELECT settings FROM flow_group WHERE id = ?", (flow["flow_group_id"],)
            ).fetchone()
            settings = {**(load(group["settings"]) if group else None or {}),
                        "heartbeat_enabled": enabled}  # fmt: skip
            conn.execute(
                "UPDATE flow_group SET settings = ? WHERE id = ?",
                (json.dumps(settings), flow["flow_group_id"]),
            )
            # Prefect 1.4.1's flow runner reads the setting from the flow itself.
            conn.execute(
                "UPDATE flow SET settings = json_set(COALESCE(settings, '{}'), "
                "'$.heartbeat_enabled', json(?)) WHERE flow_group_id = ?",
                (json.dumps(enabled), flow["flow_group_id"]),
            )
        return True

    def set_schedule_active(self, flow_id: str) -> bool:
        """Turn a flow's schedule on and create its next runs (False: it has no schedule)."""
        from prefect_agent.server.scheduler import schedule_flow_runs  # scheduler uses us

        with self.transaction() as conn:
            flow = conn.execute(
                "SELECT f.schedule, f.parameters, g.schedule AS group_schedule, "
                "g.default_parameters FROM flow f LEFT JOIN flow_group g "
                "ON g.id = f.flow_group_id WHERE f.id = ?",
                (flow_id,),
            ).fetchone()
            if flow is None:
                return False
            schedule = load(flow["schedule"])
            required = {
                p.get("name") for p in load(flow["parameters"]) or [] if p.get("required")
            } - set(load(flow["default_parameters"]) or {})
            if schedule is not None and required:
                for clock in schedule.get("clocks") or []:
                    if not required <= set(clock.get("parameter_defaults") or {}):
                        raise ServerError(
                            "set_schedule_active: can not schedule a flow that has required "
                            f"parameters ({', '.join(sorted(required))})"
                        )
            if schedule is None and flow["group_schedule"] is None:
                return False
            conn.execute("UPDATE flow SET is_schedule_active = 1 WHERE id = ?", (flow_id,))
        schedule_flow_runs(self, flow_id)
        return True

    def set_schedule_inactive(self, flow_id: str) -> bool:
        """Turn a flow's schedule off and delete its auto-scheduled runs not yet started."""
        with self.transaction() as conn:
            done = conn.execute(
                "UPDATE flow SET is_schedule_active = 0 WHERE id = ?", (flow_id,)
            ).rowcount
            if done:
                _delete_auto_scheduled(conn, flow_id)
        return bool(done)


def _checked_flow(serialized_flow: Any) -> dict[str, Any]:
    if not isinstance(serialized_flow, dict):
        raise ServerError("create_flow: serialized_flow must be a JSON object")
    name = serialized_flow.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ServerError("create_flow: serialized_flow must have a non-empty 'name'")
    for key in ("tasks", "edges", "parameters"):
        if serialized_flow.get(key) is not None and not isinstance(serialized_flow[key], list):
            raise ServerError(f"create_flow: serialized_flow '{key}' must be a list")
    schedule = serialized_flow.get("schedule")
    if schedule is not None and not isinstance(schedule, dict):
        raise ServerError("create_flow: serialized_flow 'schedule' must be an object")
    return serialized_flow


def flow_id_group(conn: sqlite3.Connection, flow_id: str) -> str:
    return str(
        conn.execute("SELECT version_group_id FROM flow WHERE id = ?", (flow_id,)).fetchone()[0]
    )


def _flow_tenant(conn: sqlite3.Connection, flow_id: str, what: str) -> str:
    flow = conn.execute("SELECT tenant_id FROM flow WHERE id = ?", (flow_id,)).fetchone()
    if flow is None:
        raise NotFound(f"{what}: no flow with id {flow_id}")
    return str(flow["tenant_id"])


def _update_task_roles(
    conn: sqlite3.Connection, flow_id: str, serialized: Mapping[str, Any]
) -> None:
    """Root, terminal, reference and mapped flags of the flow's tasks, from its edges."""
    references = [_slug(ref) for ref in serialized.get("reference_tasks") or []]
    conn.execute(
        "UPDATE task SET "
        "is_root_task = NOT EXISTS (SELECT 1 FROM edge e WHERE e.downstream_task_id = task.id), "
        "is_terminal_task = NOT EXISTS (SELECT 1 FROM edge e WHERE e.upstream_task_id = task.id), "
        "mapped = EXISTS (SELECT 1 FROM edge e WHERE e.downstream_task_id = task.id "
        "AND e.mapped = 1) WHERE flow_id = ?",
        (flow_id,),
    )
    if references:
        conn.execute(
            "UPDATE task SET is_reference_task = (slug IN (SELECT value FROM json_each(?))) "
            "WHERE flow_id = ?",
            (json.dumps(references), flow_id),
        )
    else:
        conn.execute(
            "UPDATE task SET is_reference_task = is_terminal_task WHERE flow_id = ?", (flow_id,)
        )


def _delete_auto_scheduled(conn: sqlite3.Connection, flow_id: str) -> None:
    for row in conn.execute(
        "SELECT id FROM flow_run WHERE flow_id = ? AND state = 'Scheduled' AND auto_scheduled = 1",
        (flow_id,),
    ).fetchall():
        delete_flow_run_rows(conn, row["id"])


def delete_flow_run_rows(conn: sqlite3.Connection, flow_run_id: str) -> bool:
    task_runs = "SELECT id FROM task_run WHERE flow_run_id = ?"
    conn.execute(f"DELETE FROM task_run_state WHERE task_run_id IN ({task_runs})", (flow_run_id,))
    conn.execute(
        f"DELETE FROM task_run_artifact WHERE task_run_id IN ({task_runs})", (flow_run_id,)
    )
    conn.execute("DELETE FROM log WHERE flow_run_id = ?", (flow_run_id,))
    conn.execute("DELETE FROM task_run WHERE flow_run_id = ?", (flow_run_id,))
    conn.execute("DELETE FROM flow_run_state WHERE flow_run_id = ?", (flow_run_id,))
    return bool(conn.execute("DELETE FROM flow_run WHERE id = ?", (flow_run_id,)).rowcount)

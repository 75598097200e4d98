"""Task runs as Prefect Server keeps them: created with their flow run (mapped children on
demand), their states and history, names, heartbeats, artifacts and task tag limits.

A mixin of ``Store``: it uses the store's connection, lock and transactions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from prefect_agent.domain.states import is_finished, serialized_state
from prefect_agent.server import timestamps
from prefect_agent.server.errors import NotFound, ServerError
from prefect_agent.server.rows import (
    RUNNING_FAMILY,
    dump,
    load,
    message,
    new_id,
    state_start_time,
    state_update,
)

CREATED_MESSAGE = "Task run created"

QUEUED_HOLD = timedelta(minutes=10)
"""How long a task run Queued by a tag limit stays out of the queue (a flow process waits up
to this long before it gives up, as Prefect 1.4.1's task runner does)."""


def _pending() -> dict[str, Any]:
    return {"type": "Pending", "message": CREATED_MESSAGE}


class TaskRuns:
    """Task run operations (mixed into ``Store``)."""

    _lock: Any
    transaction: Any
    reading: Any

    # -- creation --------------------------------------------------------------------------

    def _create_task_runs(
        self, conn: sqlite3.Connection, flow_run_id: str, flow_id: str, tenant_id: str
    ) -> None:
        """A Pending task run (map index -1) for each task of the flow, as Server's trigger."""
        now = timestamps.to_text(timestamps.utc_now())
        tasks = conn.execute(
            "SELECT id, cache_key FROM task WHERE flow_id = ?", (flow_id,)
        ).fetchall()
        state = json.dumps(_pending())
        runs = [(new_id(), task["id"], task["cache_key"]) for task in tasks]
        conn.executemany(
            "INSERT INTO task_run (id, tenant_id, flow_run_id, task_id, map_index, version, "
            "state, state_message, serialized_state, cache_key, state_timestamp, created, "
            "updated) VALUES (?, ?, ?, ?, -1, 0, 'Pending', ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    tenant_id,
                    flow_run_id,
                    task_id,
                    CREATED_MESSAGE,
                    state,
                    key,
                    now,
                    now,
                    now,
                )
                for run_id, task_id, key in runs
            ],
        )

    def get_or_create_task_run_info(
        self, flow_run_id: str, task_id: str, map_index: int | None = None
    ) -> dict[str, Any]:
        """The task run of (flow run, task, map index), created Pending when new (mapped
        children are created this way, by the flow process, as it maps)."""
        index = -1 if map_index is None else map_index
        with self.transaction() as conn:
            found = conn.execute(
                "SELECT id, version, state, serialized_state FROM task_run "
                "WHERE flow_run_id = ? AND task_id = ? AND map_index = ?",
                (flow_run_id, task_id, index),
            ).fetchone()
            if found:
                return {
                    "id": found["id"],
                    "version": found["version"],
                    "state": found["state"],
                    "serialized_state": load(found["serialized_state"]),
                }
            flow_run = conn.execute(
                "SELECT tenant_id FROM flow_run WHERE id = ?", (flow_run_id,)
            ).fetchone()
            if flow_run is None:
                raise NotFound(f"get_or_create_task_run: no flow run with id {flow_run_id}")
            task = conn.execute("SELECT cache_key FROM task WHERE id = ?", (task_id,)).fetchone()
            task_run_id = new_id()
            now = timestamps.to_text(timestamps.utc_now())
            state = _pending()
            conn.execute(
                "INSERT INTO task_run (id, tenant_id, flow_run_id, task_id, map_index, version, "
                "state, state_message, serialized_state, cache_key, state_timestamp, created, "
                "updated) VALUES (?, ?, ?, ?, ?, 0, 'Pending', ?, ?, ?, ?, ?, ?)",
                (
                    task_run_id,
                    flow_run["tenant_id"],
                    flow_run_id,
                    task_id,
                    index,
                    CREATED_MESSAGE,
                    json.dumps(state),
                    task["cache_key"] if task else None,
                    now,
                    now,
                    now,
                ),
            )
            _record_task_state(conn, task_run_id, flow_run["tenant_id"], 0, state, now)
            return {"id": task_run_id, "version": 0, "state": "Pending", "serialized_state": state}

    def get_or_create_task_run(self, flow_run_id: str, task_id: str, map_index: int) -> str:
        return str(self.get_or_create_task_run_info(flow_run_id, task_id, map_index)["id"])

    def task_run_info(self, task_run_id: str) -> dict[str, Any]:
        with self.reading() as conn:
            row = conn.execute(
                "SELECT id, version, state, serialized_state FROM task_run WHERE id = ?",
                (task_run_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"get_task_run_info: no task run with id {task_run_id}")
        return {**dict(row), "serialized_state": load(row["serialized_state"])}

    def mapped_children(self, task_run_id: str) -> dict[str, Any]:
        """State counts and time span of the mapped children of a (parent) task run."""
        with self.reading() as conn:
            parent = conn.execute(
                "SELECT flow_run_id, task_id FROM task_run WHERE id = ?", (task_run_id,)
            ).fetchone()
            if parent is None:
                raise NotFound(f"mapped_children: no task run with id {task_run_id}")
            rows = conn.execute(
                "SELECT state, COUNT(*) AS n, MIN(start_time) AS first, MAX(end_time) AS last "
                "FROM task_run WHERE flow_run_id = ? AND task_id = ? AND map_index >= 0 "
                "GROUP BY state",
                (parent["flow_run_id"], parent["task_id"]),
            ).fetchall()
        starts = [r["first"] for r in rows if r["first"]]
        ends = [r["last"] for r in rows if r["last"]]
        return {
            "state_counts": {r["state"]: r["n"] for r in rows},
            "min_start_time": timestamps.parse(min(starts)) if starts else None,
            "max_end_time": timestamps.parse(max(ends)) if ends else None,
        }

    # -- states ----------------------------------------------------------------------------

    def set_task_run_states(self, states: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Apply every state or none; each answer is SUCCESS, or QUEUED when a Running state
        would exceed a task tag concurrency limit (the task run is then Queued)."""
        now = timestamps.to_text(timestamps.utc_now())
        answers = []
        with self.transaction() as conn:
            for item in states:
                task_run_id = item["task_run_id"]
                state, row = state_update(conn, "task_run", task_run_id, item)
                kind = state["type"]
                if kind in RUNNING_FAMILY:
                    flow_run = conn.execute(
                        "SELECT state FROM flow_run WHERE id = ?", (row["flow_run_id"],)
                    ).fetchone()
                    if flow_run is None or flow_run["state"] != "Running":
                        raise ServerError(
                            f"State update failed for task run {task_run_id}: provided a "
                            f"running state but its flow run {row['flow_run_id']} is not in a "
                            "running state"
                        )
                previous = load(row["serialized_state"]) or {}
                if not state.get("cached_inputs") and previous.get("cached_inputs"):
                    # Inputs cached by an earlier attempt survive a retry (as on Server).
                    state = {**state, "cached_inputs": previous["cached_inputs"]}
                answer: dict[str, Any] = {"id": task_run_id, "status": "SUCCESS", "message": None}
                if kind == "Running":
                    full = self._tag_limit_reached(conn, row)
                    if full:
                        # The flow process waits and asks again (each answer pushes this
                        # start on); only a run whose process died comes back to the queue.
                        hold = timestamps.utc_now() + QUEUED_HOLD
                        state = serialized_state(
                            "Queued",
                            f"Queued by the concurrency limit of tag {full!r}.",
                            start_time=timestamps.to_text(hold),
                        )
                        answer = {"id": task_run_id, "status": "QUEUED", "message": message(state)}
                _apply_task_state(conn, row, state, now)
                answers.append(answer)
        return answers

    def _cancel_task_runs(
        self, conn: sqlite3.Connection, flow_run_id: str, state: Mapping[str, Any], now: str
    ) -> None:
        """A Cancelled flow run's unfinished task runs are Cancelled with it."""
        for row in conn.execute(
            "SELECT * FROM task_run WHERE flow_run_id = ?", (flow_run_id,)
        ).fetchall():
            if not is_finished(row["state"] or "Pending"):
                _apply_task_state(conn, row, dict(state), now)

    def set_task_run_name(self, task_run_id: str, name: str) -> bool:
        if not name:
            raise ServerError("set_task_run_name: name must not be empty")
        with self.transaction() as conn:
            done = conn.execute(
                "UPDATE task_run SET name = ? WHERE id = ?", (name, task_run_id)
            ).rowcount
        if not done:
            raise NotFound(f"set_task_run_name: no task run with id {task_run_id}")
        return True

    def task_run_heartbeat(self, task_run_id: str) -> None:
        with self.transaction() as conn:
            done = conn.execute(
                "UPDATE task_run SET heartbeat = ? WHERE id = ?",
                (timestamps.to_text(timestamps.utc_now()), task_run_id),
            ).rowcount
        if not done:
            raise NotFound(f"update_task_run_heartbeat: no task run with id {task_run_id}")

    # -- task tag concurrency limits (a Prefect Cloud feature) ------------------------------

    def _tag_limit_reached(self, conn: sqlite3.Connection, task_run: sqlite3.Row) -> str | None:
        """The first tag of the task run's task whose limit of Running task runs is reached."""
        if not conn.execute("SELECT 1 FROM task_tag_limit LIMIT 1").fetchone():
            return None
        task = conn.execute("SELECT tags FROM task WHERE id = ?", (task_run["task_id"],)).fetchone()
        tags = load(task["tags"]) if task else None
        for tag in tags or ():
            limit = conn.execute(
                'SELECT "limit" FROM task_tag_limit WHERE tenant_id = ? AND tag = ?',
                (task_run["tenant_id"], tag),
            ).fetchone()
            if limit is None:
                continue
            (running,) = conn.execute(
                "SELECT COUNT(*) FROM task_run r JOIN task t ON t.id = r.task_id "
                "WHERE r.state = 'Running' AND r.id != ? AND r.tenant_id = ? AND EXISTS "
                "(SELECT 1 FROM json_each(t.tags) WHERE json_each.value = ?)",
                (task_run["id"], task_run["tenant_id"], tag),
            ).fetchone()
            if running >= limit["limit"]:
                return str(tag)
        return None

    def update_task_tag_limit(self, tenant_id: str, tag: str, limit: int) -> str:
        if limit < 0:
            raise ServerError(f"update_task_tag_limit: limit must be >= 0, got {limit}")
        now = timestamps.to_text(timestamps.utc_now())
        with self.transaction() as conn:
            found = conn.execute(
                "SELECT id FROM task_tag_limit WHERE tenant_id = ? AND tag = ?", (tenant_id, tag)
            ).fetchone()
            if found:
                conn.execute(
                    'UPDATE task_tag_limit SET "limit" = ?, updated = ? WHERE id = ?',
                    (limit, now, found["id"]),
                )
                return str(found["id"])
            limit_id = new_id()
            conn.execute(
                'INSERT INTO task_tag_limit (id, tenant_id, tag, "limit", created, updated) '
                "VALUES (?, ?, ?, ?, ?, ?)",
                (limit_id, tenant_id, tag, limit, now, now),
            )
            return limit_id

    def delete_task_tag_limit(self, limit_id: str) -> bool:
        with self.transaction() as conn:
            return bool(
                conn.execute("DELETE FROM task_tag_limit WHERE id = ?", (limit_id,)).rowcount
            )

    # -- artifacts -------------------------------------------------------------------------

    def create_task_run_artifact(
        self, task_run_id: str, kind: str, data: Any, tenant_id: str | None
    ) -> str:
        now = timestamps.to_text(timestamps.utc_now())
        with self.transaction() as conn:
            task_run = conn.execute(
                "SELECT tenant_id FROM task_run WHERE id = ?", (task_run_id,)
            ).fetchone()
            if task_run is None:
                raise NotFound(f"create_task_run_artifact: no task run with id {task_run_id}")
            artifact_id = new_id()
            conn.execute(
                "INSERT INTO task_run_artifact (id, tenant_id, task_run_id, kind, data, created, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (artifact_id, tenant_id or task_run["tenant_id"], task_run_id, kind, dump(data),
                 now, now),
            )  # fmt: skip
            return artifact_id

    def update_task_run_artifact(self, artifact_id: str, data: Any) -> bool:
        now = timestamps.to_text(timestamps.utc_now())
        with self.transaction() as conn:
            done = conn.execute(
                "UPDATE task_run_artifact SET data = ?, updated = ? WHERE id = ?",
                (dump(data), now, artifact_id),
            ).rowcount
        if not done:
            raise NotFound(f"update_task_run_artifact: no artifact with id {artifact_id}")
        return True

    def delete_task_run_artifact(self, artifact_id: str) -> bool:
        with self.transaction() as conn:
            done = conn.execute(
                "DELETE FROM task_run_artifact WHERE id = ?", (artifact_id,)
            ).rowcount
        if not done:
            raise NotFound(f"delete_task_run_artifact: no artifact with id {artifact_id}")
        return True


def _apply_task_state(
    conn: sqlite3.Connection, row: sqlite3.Row, state: Mapping[str, Any], now: str
) -> None:
    """Make ``state`` the task run's current one (next version) and keep it in its history."""
    kind = state["type"]
    version = row["version"] + 1
    conn.execute(
        "UPDATE task_run SET version = ?, state = ?, state_message = ?, state_start_time = ?, "
        "state_timestamp = ?, serialized_state = ?, updated = ?, "
        "heartbeat = CASE WHEN ? THEN ? ELSE heartbeat END, "
        "start_time = CASE WHEN ? AND start_time IS NULL THEN ? ELSE start_time END, "
        "end_time = CASE WHEN ? THEN ? ELSE end_time END WHERE id = ?",
        (
            version,
            kind,
            message(state),
            state_start_time(state),
            now,
            json.dumps(state),
            now,
            kind == "Running",
            now,
            kind == "Running",
            now,
            is_finished(kind),
            now,
            row["id"],
        ),
    )
    _record_task_state(conn, row["id"], row["tenant_id"], version, state, now)


def _record_task_state(
    conn: sqlite3.Connection,
    task_run_id: str,
    tenant_id: str | None,
    version: int,
    state: Mapping[str, Any],
    now: str,
) -> None:
    conn.execute(
        "INSERT INTO task_run_state (id, task_run_id, tenant_id, version, state, message, "
        "serialized_state, start_time, timestamp, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new_id(),
            task_run_id,
            tenant_id,
            version,
            state["type"],
            message(state),
            json.dumps(state),
            state_start_time(state),
            now,
            now,
        ),
    )

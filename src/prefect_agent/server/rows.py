"""Helpers shared by the store's modules: ids, JSON columns, checked states."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping
from typing import Any

from prefect_agent.domain.states import SCHEDULED_FAMILY
from prefect_agent.server import timestamps
from prefect_agent.server.errors import NotFound, ServerError, VersionLocked

MAX_STATE_BYTES = 1_000_000
"""A serialized state larger than this is refused (as on Prefect Server)."""

RUNNING_FAMILY = frozenset({"Running", "Cancelling"})
"""Prefect's Running state and its subclass."""


def new_id() -> str:
    return str(uuid.uuid4())


def dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def load(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        # A row written by something else: hand the raw text back rather than fail the query.
        return text


def state_start_time(state: Mapping[str, Any]) -> str | None:
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


def check_state(state: Any, what: str) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise ServerError(f"{what}: state must be a JSON object, not {type(state).__name__}")
    if not isinstance(state.get("type"), str) or not state["type"]:
        raise ServerError(f"{what}: state must have a string 'type' (e.g. 'Running')")
    if len(json.dumps(state)) > MAX_STATE_BYTES:
        raise ServerError(f"{what}: serialized state exceeds {MAX_STATE_BYTES} bytes")
    return state


def state_update(
    conn: sqlite3.Connection, table: str, row_id: str, item: Mapping[str, Any]
) -> tuple[dict[str, Any], sqlite3.Row]:
    """The checked new state and the current row of a flow or task run about to change.

    Raises ``NotFound`` for an unknown id and ``VersionLocked`` for a stale ``version``.
    """
    what = f"State update failed for {table.replace('_', ' ')} {row_id}"
    state = check_state(item["state"], what)
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        raise NotFound(f"{what}: no {table.replace('_', ' ')} with this id")
    wanted, current = item.get("version"), row["version"]
    if wanted is not None and wanted != current:
        raise VersionLocked(f"{what}: provided version {wanted} but current version is {current}")
    return state, row


def message(state: Mapping[str, Any]) -> str | None:
    message = state.get("message")
    return message if isinstance(message, str) else None

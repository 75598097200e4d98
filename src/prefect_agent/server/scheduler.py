"""The scheduler: flows with an active schedule get their next runs created ahead, as Prefect
Server's scheduler service does (the next ``max_runs`` start times, each run created once:
its idempotency key names its start time, and its parameters and labels when the clock has
any). Runs it creates are ``auto_scheduled``: turning the schedule off deletes those not yet
started.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from prefect_agent.server import timestamps
from prefect_agent.server.periodic import PeriodicService
from prefect_agent.server.rows import load
from prefect_agent.server.schedules import ScheduleError, next_events

logger = logging.getLogger(__name__)

MAX_SCHEDULED_RUNS = 10
"""Runs created ahead per flow (Prefect Server's max_scheduled_runs_per_flow)."""


def schedule_flow_runs(store: Any, flow_id: str, max_runs: int = MAX_SCHEDULED_RUNS) -> list[str]:
    """Create the flow's next runs; returns the ids of the runs created (or found again)."""
    with store.reading() as conn:
        flow = conn.execute(
            "SELECT f.schedule, g.schedule AS group_schedule FROM flow f LEFT JOIN flow_group g "
            "ON g.id = f.flow_group_id WHERE f.id = ? AND f.is_schedule_active = 1 "
            "AND f.archived = 0",
            (flow_id,),
        ).fetchone()
        if flow is None:
            return []
        schedule = load(flow["group_schedule"]) or load(flow["schedule"])
        (latest,) = conn.execute(
            "SELECT MAX(scheduled_start_time) FROM flow_run WHERE flow_id = ? "
            "AND auto_scheduled = 1",
            (flow_id,),
        ).fetchone()
    if not schedule:
        return []
    now = timestamps.utc_now()
    try:
        events = next_events(schedule, max_runs, now)
    except (ScheduleError, ValueError, TypeError) as exc:
        logger.error("Flow %s: its schedule cannot be evaluated: %s", flow_id, exc)
        return []
    last = timestamps.parse(latest) if latest else None
    run_ids = []
    for event in events:
        start = timestamps.to_text(event.start_time)
        if event.parameter_defaults or event.labels is not None:
            digest = hashlib.md5(
                (
                    json.dumps(event.parameter_defaults, sort_keys=True)
                    + json.dumps(sorted(event.labels) if event.labels is not None else None)
                ).encode()
            ).hexdigest()
            key = f"auto-scheduled:{start}:{digest}"
        elif last is not None and event.start_time <= last:
            continue
        else:
            key = f"auto-scheduled:{start}"
        run_ids.append(
            store.create_flow_run(
                flow_id=flow_id,
                scheduled_start_time=event.start_time,
                parameters=dict(event.parameter_defaults) or None,
                labels=event.labels,
                idempotency_key=key,
                auto_scheduled=True,
            )
        )
    return run_ids


class Scheduler(PeriodicService):
    """Every ``interval_seconds``, schedule the next runs of every active, unarchived flow."""

    thread_name = "scheduler"

    def __init__(self, store: Any, *, interval_seconds: float = 150.0) -> None:
        super().__init__(interval_seconds)
        self.store = store

    def sweep(self) -> int:
        """One pass; returns how many runs it created or found."""
        with self.store.reading() as conn:
            flows = [
                row["id"]
                for row in conn.execute(
                    "SELECT id FROM flow WHERE is_schedule_active = 1 AND archived = 0"
                )
            ]
        created = 0
        for flow_id in flows:
            try:
                created += len(schedule_flow_runs(self.store, flow_id))
            except Exception:  # one flow must not stop the others
                logger.exception("Scheduling flow %s failed", flow_id)
        return created

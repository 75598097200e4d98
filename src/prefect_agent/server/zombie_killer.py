"""The zombie killer: task runs that claim to be Running but whose flow run stopped sending
heartbeats, and flow runs stuck in Cancelling, as Prefect Server's zombie killer handles them.

A task run is a zombie when it is Running and its flow run's heartbeat is older than
``after_seconds`` (and the flow's heartbeats are on): it is set Retrying now when it has
retries left and its flow run is still Running, else Failed. A flow run Cancelling with a
stale heartbeat is Failed. Each change gets a log line saying why.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from prefect_agent.domain.states import serialized_state
from prefect_agent.server import timestamps
from prefect_agent.server.periodic import PeriodicService
from prefect_agent.server.rows import load

logger = logging.getLogger(__name__)

DEFAULT_AFTER_SECONDS = 600.0
"""Prefect Server's heartbeat cutoff: 10 minutes."""


def _seconds(interval: str | None) -> float:
    """A stored retry delay ("HH:MM:SS[.ffffff]") in seconds."""
    match = re.fullmatch(r"(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?", interval or "")
    if not match:
        return 0.0
    hours, minutes, seconds, fraction = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + float(f"0.{fraction or 0}")


class ZombieKiller(PeriodicService):
    thread_name = "zombie-killer"

    def __init__(
        self,
        store: Any,
        *,
        after_seconds: float = DEFAULT_AFTER_SECONDS,
        interval_seconds: float = 120.0,
    ) -> None:
        super().__init__(interval_seconds)
        self.store = store
        self.after = timedelta(seconds=after_seconds)

    def sweep(self) -> tuple[int, int]:
        """One pass: (task runs handled, flow runs handled)."""
        cutoff = timestamps.to_text(timestamps.utc_now() - self.after)
        return self._task_runs(cutoff), self._cancelling_flow_runs(cutoff)

    def _task_runs(self, cutoff: str) -> int:
        with self.store.reading() as conn:
            zombies = conn.execute(
                "SELECT t.id, t.flow_run_id, t.version, f.state AS flow_state, "
                "k.max_retries, k.retry_delay, g.settings, "
                "(SELECT COUNT(*) FROM task_run_state s WHERE s.task_run_id = t.id "
                "AND s.state = 'Retrying') AS retries "
                "FROM task_run t JOIN flow_run f ON f.id = t.flow_run_id "
                "LEFT JOIN task k ON k.id = t.task_id "
                "LEFT JOIN flow w ON w.id = f.flow_id "
                "LEFT JOIN flow_group g ON g.id = w.flow_group_id "
                "WHERE t.state = 'Running' AND f.heartbeat <= ?",
                (cutoff,),
            ).fetchall()
        handled = 0
        for zombie in zombies:
            if (load(zombie["settings"]) or {}).get("heartbeat_enabled") is False:
                continue
            retries_left = zombie["retries"] < (zombie["max_retries"] or 0)
            if zombie["flow_state"] == "Running" and retries_left:
                message = (
                    "No heartbeat detected from the remote task; retrying the run. This will "
                    f"be retry {zombie['retries'] + 1} of {zombie['max_retries']}."
                )
                start = timestamps.utc_now() + timedelta(seconds=_seconds(zombie["retry_delay"]))
                state = serialized_state(
                    "Retrying",
                    message,
                    start_time=timestamps.to_text(start),
                    run_count=zombie["retries"] + 1,
                )
            else:
                message = (
                    "No heartbeat detected from the remote task; marking the task run "
                    f"{zombie['id']} as failed."
                )
                state = serialized_state("Failed", message)
            try:
                self.store.set_task_run_states(
                    [{"task_run_id": zombie["id"], "version": zombie["version"], "state": state}]
                )
            except Exception:  # moved on meanwhile: nothing to do
                logger.debug("Zombie task run %s changed meanwhile", zombie["id"], exc_info=True)
                continue
            self.store.write_logs(
                [
                    {
                        "flow_run_id": zombie["flow_run_id"],
                        "task_run_id": zombie["id"],
                        "name": "zombie-killer.TaskRun",
                        "level": "ERROR",
                        "message": message,
                    }
                ]
            )
            handled += 1
        return handled

    def _cancelling_flow_runs(self, cutoff: str) -> int:
        with self.store.reading() as conn:
            stuck = conn.execute(
                "SELECT f.id, f.version, g.settings FROM flow_run f "
                "LEFT JOIN flow w ON w.id = f.flow_id "
                "LEFT JOIN flow_group g ON g.id = w.flow_group_id "
                "WHERE f.state = 'Cancelling' AND COALESCE(f.heartbeat, f.state_timestamp) <= ?",
                (cutoff,),
            ).fetchall()
        handled = 0
        message = "No heartbeat detected from the flow run; marking the run as failed."
        for run in stuck:
            if (load(run["settings"]) or {}).get("heartbeat_enabled") is False:
                continue
            try:
                self.store.set_flow_run_states(
                    [
                        {
                            "flow_run_id": run["id"],
                            "version": run["version"],
                            "state": serialized_state("Failed", message),
                        }
                    ]
                )
            except Exception:  # moved on meanwhile: nothing to do
                logger.debug("Cancelling flow run %s changed meanwhile", run["id"], exc_info=True)
                continue
            self.store.write_logs(
                [
                    {
                        "flow_run_id": run["id"],
                        "name": "zombie-killer.FlowRun",
                        "level": "ERROR",
                        "message": message,
                    }
                ]
            )
            handled += 1
        return handled

    def report(self, result: tuple[int, int]) -> None:
        tasks, flows = result
        if tasks or flows:
            logger.info("Zombie killer handled %d task run(s), %d flow run(s)", tasks, flows)

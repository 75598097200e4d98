"""Lazarus: runs that nothing will move on are scheduled again, as on Prefect Server.

An agent that dies between claiming a run (Submitted) and starting it leaves the run with no
process, and a flow process killed between two tasks leaves its run Running with no task run
running or waiting; nothing else would ever move them on. Prefect Server's towel service
reschedules such runs; so does this: after ``after_seconds`` without a heartbeat, a run
Submitted, or Running with task runs none of which is running or waiting to run, is Scheduled
again for now, at most ``attempts`` times, then Failed with the reason. Running runs without
task runs (the stand-in executor's, which sends no heartbeats) are left alone.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from prefect_agent.server import timestamps
from prefect_agent.server.periodic import PeriodicService
from prefect_agent.server.store import Store

logger = logging.getLogger(__name__)

RESCHEDULED = "Rescheduled by a Lazarus process."


class Lazarus(PeriodicService):
    thread_name = "lazarus"

    def __init__(
        self,
        store: Store,
        *,
        after_seconds: float,
        interval_seconds: float | None = None,
        attempts: int = 3,
    ) -> None:
        super().__init__(
            interval_seconds
            if interval_seconds is not None
            else min(60.0, max(0.5, after_seconds / 4))
        )
        self.store = store
        self.after = timedelta(seconds=after_seconds)
        self.attempts = attempts

    def sweep(self) -> tuple[list[str], list[str]]:
        """One pass: returns the ids rescheduled and the ids failed for good."""
        cutoff = timestamps.to_text(timestamps.utc_now() - self.after)
        return self.store.resurrect_submitted(cutoff, RESCHEDULED, self.attempts)

    def report(self, result: tuple[list[str], list[str]]) -> None:
        rescheduled, failed = result
        if rescheduled or failed:
            logger.info(
                "Lazarus rescheduled %d run(s) stuck in Submitted, failed %d",
                len(rescheduled),
                len(failed),
            )

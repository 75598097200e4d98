"""The backlog policy: what to do with runs that became very late (after an outage)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.services.run_failure import RunFailer

logger = logging.getLogger(__name__)


class BacklogPolicy:
    """Splits due runs into those to launch and those skipped for being too late.

    With ``backlog_policy = "skip"`` a run whose scheduled start is more than
    ``backlog_threshold_seconds`` in the past is set Failed, version-locked at the version
    it was read at, with the reason in its logs. Locking at the read version means a run
    another agent claimed meanwhile is left alone (the conflict is that agent's win, not
    ours to overwrite). Runs without a start time (task-run retries) are never skipped.
    With ``"launch"`` (the default) every run is launched; a late batch is logged once.
    """

    def __init__(self, *, settings: OperationsSettings, failer: RunFailer, agent_name: str) -> None:
        self._settings = settings
        self._failer = failer
        self._agent_name = agent_name

    def admit(self, runs: Sequence[FlowRun], now: datetime) -> tuple[list[FlowRun], list[FlowRun]]:
        """Return (runs to launch, runs skipped); skipped runs are already failed."""
        admitted: list[FlowRun] = []
        skipped: list[FlowRun] = []
        worst = 0.0
        for run in runs:
            lateness = _lateness(run, now)
            worst = max(worst, lateness)
            if self._settings.skips_backlog(lateness):
                skipped.append(run)
                self._skip(run, lateness)
            else:
                admitted.append(run)
        threshold = self._settings.backlog_threshold_seconds
        if threshold is not None and admitted and worst > threshold and not skipped:
            logger.warning(
                "Launching %d flow run(s), up to %.0fs late (backlog policy: launch)",
                len(admitted),
                worst,
            )
        return admitted, skipped

    def _skip(self, run: FlowRun, lateness: float) -> None:
        reason = (
            f"Skipped by agent {self._agent_name!r}: the run was {lateness:.0f}s late, more "
            f"than the backlog threshold of {self._settings.backlog_threshold_seconds:g}s "
            "(backlog policy 'skip')"
        )
        # Left Scheduled when the API cannot take it: the next poll finds it and decides again.
        self._failer.fail_unless_changed(run.id, reason, run.version)


def _lateness(run: FlowRun, now: datetime) -> float:
    if run.start_time is None:
        return 0.0
    return max(0.0, (now - run.start_time).total_seconds())

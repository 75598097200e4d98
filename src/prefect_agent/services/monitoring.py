"""Watching launched runs: infrastructure that failed ends its run Failed, with the reason."""

from __future__ import annotations

import logging
import threading

import attrs

from prefect_agent.domain.errors import PrefectAgentError
from prefect_agent.domain.outcomes import InfrastructureOutcome
from prefect_agent.domain.states import RUNNING, SUBMITTED, is_finished
from prefect_agent.ports import HealthReporter, Platform, RunSource
from prefect_agent.services.run_failure import FailResult, RunFailer

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 30
"""Checks a failure may wait for the API before it is given up (about a minute at 2 s)."""

LAUNCHED_STATES = frozenset({SUBMITTED, RUNNING})
"""States in which a run still belongs to the infrastructure the agent launched."""


@attrs.define
class _PendingFailure:
    outcome: InfrastructureOutcome
    logged: bool = False
    reported: bool = False
    attempts: int = 0


class InfrastructureMonitor:
    """Reads ``Platform.outcomes()`` and fails runs whose infrastructure died first.

    Only a run still Submitted or Running is failed: one that finished reported its own
    fate, and one Scheduled again (by Lazarus, a user) or taken elsewhere is no longer this
    launch's. Otherwise the reason and the last output lines go to the run's logs and the run
    is set Failed at its current version. The platform hands each outcome over once, so a
    failure that meets an unreachable API is kept and tried again on the next checks.
    """

    def __init__(
        self, *, source: RunSource, platform: Platform, health: HealthReporter, agent_name: str
    ) -> None:
        self._source = source
        self._platform = platform
        self._health = health
        self._failer = RunFailer(source, agent_name)
        self._watched: set[str] = set()
        self._pending: dict[str, _PendingFailure] = {}
        self._lock = threading.Lock()

    def watch(self, run_id: str) -> None:
        with self._lock:
            self._watched.add(run_id)

    @property
    def watched(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._watched)

    def check(self) -> list[InfrastructureOutcome]:
        """Handle every outcome reported since the last check, and failures still pending;
        returns the failures whose run was set Failed."""
        self._write_infrastructure_logs()
        try:
            outcomes = self._platform.outcomes()
        except PrefectAgentError as exc:
            logger.warning("Could not read the platform's run outcomes: %s", exc)
            outcomes = []
        with self._lock:
            for outcome in outcomes:
                self._watched.discard(outcome.run_id)
                if not outcome.succeeded:
                    self._pending[outcome.run_id] = _PendingFailure(outcome)
            pending = list(self._pending.values())
        failed = []
        for item in pending:
            result = self._handle_failure(item)
            if result is FailResult.UNREACHABLE and item.attempts < MAX_ATTEMPTS:
                item.attempts += 1
                continue
            if result is FailResult.UNREACHABLE:
                logger.error(
                    "Gave up reporting the failure of flow run %s (%s): the API stayed unreachable",
                    item.outcome.run_id,
                    item.outcome.reason,
                )
            with self._lock:
                self._pending.pop(item.outcome.run_id, None)
            if result is FailResult.WRITTEN:
                failed.append(item.outcome)
        return failed

    def _write_infrastructure_logs(self) -> None:
        try:
            logs = self._platform.infrastructure_logs()
            if logs:
                self._source.write_logs(logs)
        except PrefectAgentError as exc:
            logger.warning("Could not write infrastructure logs to flow runs: %s", exc)

    def _handle_failure(self, item: _PendingFailure) -> FailResult:
        outcome = item.outcome
        try:
            status = self._source.run_status(outcome.run_id)
        except PrefectAgentError as exc:
            logger.warning(
                "Could not read flow run %s to report its failure: %s", outcome.run_id, exc
            )
            return FailResult.UNREACHABLE
        if is_finished(status.state) or status.state not in LAUNCHED_STATES:
            logger.debug(
                "Infrastructure of run %s ended (%s) while the run is %s: nothing to do",
                outcome.run_id,
                outcome.reason,
                status.state,
            )
            return FailResult.NOT_NEEDED
        if not item.reported:
            self._health.infrastructure_failed(outcome.run_id, outcome.reason)
            item.reported = True
        if not item.logged:
            item.logged = self._failer.write_reason(outcome.run_id, outcome.reason, outcome.details)
        return self._failer.set_failed(outcome.run_id, outcome.reason, status.version)

"""Watching launched runs: infrastructure that failed ends its run Failed, with the reason."""

from __future__ import annotations

import logging
import threading

from prefect_agent.domain.errors import PrefectAgentError
from prefect_agent.domain.outcomes import InfrastructureOutcome
from prefect_agent.domain.states import is_finished
from prefect_agent.ports import HealthReporter, Platform, RunSource
from prefect_agent.services.run_failure import RunFailer

logger = logging.getLogger(__name__)


class InfrastructureMonitor:
    """Reads ``Platform.outcomes()`` and fails runs whose infrastructure died first.

    A failed outcome for a run that already reached a finished state is ignored: the flow
    reported its own fate. Otherwise the reason and the last output lines go to the run's
    logs and the run is set Failed at its current version.
    """

    def __init__(
        self, *, source: RunSource, platform: Platform, health: HealthReporter, agent_name: str
    ) -> None:
        self._source = source
        self._platform = platform
        self._health = health
        self._failer = RunFailer(source, agent_name)
        self._watched: set[str] = set()
        self._lock = threading.Lock()

    def watch(self, run_id: str) -> None:
        with self._lock:
            self._watched.add(run_id)

    @property
    def watched(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._watched)

    def check(self) -> list[InfrastructureOutcome]:
        """Handle every outcome reported since the last check; returns the failures handled."""
        self._write_infrastructure_logs()
        try:
            outcomes = self._platform.outcomes()
        except PrefectAgentError as exc:
            logger.warning("Could not read the platform's run outcomes: %s", exc)
            return []
        failures = []
        for outcome in outcomes:
            with self._lock:
                self._watched.discard(outcome.run_id)
            if outcome.succeeded:
                continue
            if self._handle_failure(outcome):
                failures.append(outcome)
        return failures

    def _write_infrastructure_logs(self) -> None:
        try:
            logs = self._platform.infrastructure_logs()
            if logs:
                self._source.write_logs(logs)
        except PrefectAgentError as exc:
            logger.warning("Could not write infrastructure logs to flow runs: %s", exc)

    def _handle_failure(self, outcome: InfrastructureOutcome) -> bool:
        try:
            status = self._source.run_status(outcome.run_id)
        except PrefectAgentError as exc:
            logger.warning(
                "Could not read flow run %s to report its failure: %s", outcome.run_id, exc
            )
            return False
        if is_finished(status.state):
            logger.debug(
                "Infrastructure of run %s ended (%s) after the run finished (%s)",
                outcome.run_id,
                outcome.reason,
                status.state,
            )
            return False
        self._health.infrastructure_failed(outcome.run_id, outcome.reason)
        return self._failer.fail(outcome.run_id, outcome.reason, status.version, outcome.details)

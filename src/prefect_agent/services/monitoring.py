"""Watching launched runs: failed infrastructure ends its run Failed (with the reason), and
infrastructure of a run its user cancelled is stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from prefect_agent.domain.errors import PrefectAgentError, TransientError
from prefect_agent.domain.outcomes import InfrastructureOutcome
from prefect_agent.domain.states import RUNNING, SUBMITTED, is_finished
from prefect_agent.ports import Clock, HealthReporter, Platform, RunSource
from prefect_agent.services.cancellation import Canceller
from prefect_agent.services.run_failure import FailResult, RunFailer

logger = logging.getLogger(__name__)

DEFAULT_GIVE_UP = timedelta(hours=6)
"""How long a failure may wait for the API when no setting says otherwise."""

LAUNCHED_STATES = frozenset({SUBMITTED, RUNNING})
"""States in which a run still belongs to the infrastructure the agent launched."""


@attrs.define
class _PendingFailure:
    outcome: InfrastructureOutcome
    give_up_at: datetime
    logged: bool = False
    reported: bool = False


class InfrastructureMonitor:
    """Reads ``Platform.outcomes()`` and fails runs whose infrastructure died first.

    Only a run still Submitted or Running is failed: one that finished reported its own
    fate, and one Scheduled again (by Lazarus, a user) or taken elsewhere is no longer this
    launch's. Otherwise the reason and the last output lines go to the run's logs and the run
    is set Failed at its current version. Only then is the platform told to forget the
    verdict (``acknowledge``): a failure that meets an unreachable API is kept, here and by
    the platform (so a restarted agent reports it too), and tried again on each check until
    ``give_up_after`` has passed since the infrastructure ended.

    Each check also asks the source, in one request for every watched run and only when a
    poll happened since the last time (``polls``), which of them a user cancelled, and
    stops their infrastructure (``Canceller``).
    """

    def __init__(
        self,
        *,
        source: RunSource,
        platform: Platform,
        health: HealthReporter,
        failer: RunFailer,
        agent_name: str,
        clock: Clock,
        give_up_after: timedelta = DEFAULT_GIVE_UP,
        polls: Callable[[], int] | None = None,
    ) -> None:
        self._source = source
        self._platform = platform
        self._health = health
        self._clock = clock
        self._give_up_after = give_up_after
        self._failer = failer
        self._canceller = Canceller(source, platform, agent_name)
        self._polls = polls
        self._polls_seen: int | None = None
        self._watched: set[str] = set()
        self._pending: dict[str, _PendingFailure] = {}
        self._lock = threading.Lock()
        self._api_down = False

    def watch(self, run_id: str) -> None:
        with self._lock:
            self._watched.add(run_id)

    @property
    def watched(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._watched)

    @property
    def pending(self) -> frozenset[str]:
        """Runs whose failure waits for the API."""
        with self._lock:
            return frozenset(self._pending)

    def check(self) -> list[InfrastructureOutcome]:
        """Stop what was cancelled, handle every outcome reported since the last check and
        failures still pending; returns the failures whose run was set Failed."""
        self._write_infrastructure_logs()
        self._stop_cancelled()
        try:
            outcomes = self._platform.outcomes()
        except PrefectAgentError as exc:
            logger.warning("Could not read the platform's run outcomes: %s", exc)
            outcomes = []
        now = self._clock.now()
        succeeded = []
        with self._lock:
            for outcome in outcomes:
                self._watched.discard(outcome.run_id)
                if outcome.succeeded:
                    succeeded.append(outcome.run_id)
                elif outcome.run_id not in self._pending:
                    start = outcome.ended_at or now
                    self._pending[outcome.run_id] = _PendingFailure(
                        outcome, give_up_at=start + self._give_up_after
                    )
            pending = list(self._pending.values())
        for run_id in succeeded:
            self._acknowledge(run_id)
        failed = []
        self._api_down = False
        for item in pending:
            # Once the API did not answer, the other failures wait for the next check instead
            # of each spending the client's retries on an API that is down.
            result = FailResult.UNREACHABLE if self._api_down else self._handle_failure(item)
            if result is FailResult.UNREACHABLE:
                if now < item.give_up_at:
                    continue
                logger.error(
                    "Gave up reporting the failure of flow run %s (%s): the API did not take "
                    "it within %s",
                    item.outcome.run_id,
                    item.outcome.reason,
                    self._give_up_after,
                )
            with self._lock:
                self._pending.pop(item.outcome.run_id, None)
            self._acknowledge(item.outcome.run_id)
            if result is FailResult.WRITTEN:
                failed.append(item.outcome)
        return failed

    def _stop_cancelled(self) -> None:
        if self._polls is not None:
            polls = self._polls()
            if polls == self._polls_seen:
                return  # at most one cancellation query per poll
            self._polls_seen = polls
        with self._lock:
            watched = frozenset(self._watched)
        self._canceller.check(watched)

    def _acknowledge(self, run_id: str) -> None:
        try:
            self._platform.acknowledge(run_id)
        except PrefectAgentError as exc:
            logger.warning("Could not clean up after flow run %s: %s", run_id, exc)
        self._canceller.forget(run_id)

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
        except TransientError as exc:
            logger.warning(
                "Could not read flow run %s to report its failure: %s", outcome.run_id, exc
            )
            self._api_down = True
            return FailResult.UNREACHABLE
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

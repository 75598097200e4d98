"""The poll loop: ask for ready runs on the backoff ladder, pass new ones on to ``on_found``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.backoff_ladder import PollInterval
from prefect_agent.domain.errors import PrefectAgentError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.ports import Clock, HealthReporter, RunSource
from prefect_agent.services.in_flight import InFlightRuns
from prefect_agent.services.run_failure import RunFailer

logger = logging.getLogger(__name__)


class PollLoop:
    """Polls ``RunSource.ready_runs`` and passes runs not already in flight to ``on_found``
    (the scheduler), reserved in ``in_flight``; rows that cannot be read are failed at once.

    Runs due within ``prefetch_seconds`` are fetched early so they launch on time. After a
    poll that found runs the next one comes 0.25 s later; empty polls back off to 10 s
    (``interval``). ``wake()`` ends the current wait at once (``/api/poke``). ``max_polls``
    None polls until ``stop()``; 0 never polls.
    """

    def __init__(
        self,
        *,
        config: AgentConfig,
        source: RunSource,
        clock: Clock,
        health: HealthReporter,
        in_flight: InFlightRuns,
        failer: RunFailer,
        on_found: Callable[[Sequence[FlowRun]], None],
    ) -> None:
        self._config = config
        self._source = source
        self._clock = clock
        self._health = health
        self._in_flight = in_flight
        self._failer = failer
        self._on_found = on_found
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.polls = 0
        self.interval = PollInterval()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        """Poll until stopped or ``max_polls`` polls were made."""
        max_polls = self._config.max_polls
        while not self._stopping.is_set() and (max_polls is None or self.polls < max_polls):
            self._wake.clear()
            self.poll_once()
            if max_polls is not None and self.polls >= max_polls:
                break
            logger.debug("Sleeping flow run poller for %s seconds", self.interval.seconds)
            self._clock.wait(self._wake, self.interval.seconds)

    def poll_once(self) -> int:
        """One poll; returns how many runs it handed on (0 when the poll failed)."""
        self.polls += 1
        now = self._clock.now()
        try:
            before = now + timedelta(seconds=self._config.prefetch_seconds)
            ready = self._source.ready_runs(
                self._config.labels, before=before, known=self._in_flight.ids()
            )
        except PrefectAgentError as exc:
            logger.error("Failed to query for ready flow runs: %s", exc)
            self._failed(now, exc)
            return 0
        except Exception as exc:  # the loop must survive anything a source does
            logger.exception("Unexpected error while polling for flow runs")
            self._failed(now, exc)
            return 0
        for bad in ready.unreadable:
            if self._in_flight.reserve([bad.run_id]):
                try:
                    self._failer.fail(bad.run_id, bad.reason, bad.version)
                finally:
                    self._in_flight.release(bad.run_id)
        by_id = {run.id: run for run in ready.runs}
        fresh = [by_id[i] for i in self._in_flight.reserve(by_id)]
        self.interval = self.interval.after_poll(bool(fresh))
        self._health.poll_succeeded(now, len(ready.runs), self.interval.seconds)
        if fresh:
            logger.info("Found %d flow run(s) to submit", len(fresh))
            self._health.in_flight(len(self._in_flight))
            self._on_found(fresh)
        return len(fresh)

    def _failed(self, now: datetime, error: BaseException) -> None:
        self.interval = self.interval.after_poll(False)
        self._health.poll_failed(now, error, self.interval.seconds)

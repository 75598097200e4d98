"""Deploying due runs: claim them in one batch, launch each, log, fail what cannot start."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.backoff_ladder import backoff_delay
from prefect_agent.domain.errors import LaunchError, PlatformUnavailable, PrefectAgentError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.outcomes import Claimed, ClaimLost, RunLog
from prefect_agent.ports import Clock, HealthReporter, Platform, RunSource
from prefect_agent.services.backlog import BacklogPolicy
from prefect_agent.services.in_flight import InFlightRuns
from prefect_agent.services.run_failure import RunFailer

logger = logging.getLogger(__name__)

CLAIM_SLICE = 100
"""Runs claimed per request: small enough to overlap claiming with launching. (Measured:
smaller first slices, doubling up to this, started launches earlier but cost the API more
requests and finished a 1000-run burst no sooner.)"""


def claim_slices(count: int) -> list[range]:
    """Index ranges of a batch of ``count`` runs, in the order they are claimed."""
    return [range(start, min(count, start + CLAIM_SLICE)) for start in range(0, count, CLAIM_SLICE)]


class _LogBatch:
    """Collects the success lines of one claim batch and writes them in one request."""

    def __init__(self, expected: int, write: Callable[[Sequence[RunLog]], None]) -> None:
        self._pending = expected
        self._logs: list[RunLog] = []
        self._lock = threading.Lock()
        self._write = write

    def add(self, log: RunLog | None) -> None:
        with self._lock:
            if log is not None:
                self._logs.append(log)
            self._pending -= 1
            ready = self._logs if self._pending == 0 else None
        if ready:
            try:
                self._write(ready)
            except PrefectAgentError as exc:
                # The runs are launched; a lost log line must not fail them (Prefect 1 did).
                logger.warning("Could not write %d submission log lines: %s", len(ready), exc)


class Deployer:
    """Turns due runs into launched runs.

    ``deploy(runs)`` runs on the scheduler thread: it checks the platform, claims the whole
    batch in one call, then hands each won claim to the launch executor (bounded
    concurrency). Every run leaves ``in_flight`` once its deployment is over, whatever the
    outcome. ``on_launched`` tells the monitor what to watch; ``backoff`` hands runs that could
    not be claimed now (platform unavailable, claim request failed) back to the scheduler for a
    later attempt; ``failer`` fails what cannot be launched.
    """

    def __init__(
        self,
        *,
        config: AgentConfig,
        source: RunSource,
        platform: Platform,
        clock: Clock,
        health: HealthReporter,
        in_flight: InFlightRuns,
        executor: Executor,
        failer: RunFailer,
        backlog: BacklogPolicy,
        on_launched: Callable[[FlowRun], None],
        backoff: Callable[[Sequence[FlowRun], float], None],
        stopping: Callable[[], bool],
    ) -> None:
        self._config = config
        self._source = source
        self._platform = platform
        self._clock = clock
        self._health = health
        self._in_flight = in_flight
        self._executor = executor
        self._on_launched = on_launched
        self._backoff = backoff
        self._stopping = stopping
        self._claim_attempts: dict[str, int] = {}
        self._failer = failer
        self._backlog = backlog

    def deploy(self, runs: Sequence[FlowRun]) -> None:
        runs, skipped = self._backlog.admit(runs, self._clock.now())
        if skipped:
            self._release(skipped)
        if not runs:
            return
        try:
            self._platform.check()
        except PlatformUnavailable as exc:
            # Claim nothing we cannot launch: the runs stay Scheduled (and reserved, so polls
            # back off instead of finding them "new" every 0.25 s) until the platform returns.
            self._health.platform_checked(False, str(exc))
            self._try_again_later(runs, f"the platform is unavailable: {exc}")
            return
        self._health.platform_checked(True)
        # Claimed in slices so the first runs launch while the API still applies the rest.
        for part in claim_slices(len(runs)):
            if self._stopping():
                self._release(runs[part.start :])  # unclaimed: they stay Scheduled
                return
            self._claim_and_launch(runs[part.start : part.stop])

    def _claim_and_launch(self, runs: Sequence[FlowRun]) -> None:
        try:
            results = self._source.claim(runs)
        except PrefectAgentError as exc:
            self._try_again_later(runs, f"could not claim them: {exc}")
            return
        for run in runs:
            self._claim_attempts.pop(run.id, None)
        by_id = {run.id: run for run in runs}
        won = [(by_id[r.run_id], r.version) for r in results if isinstance(r, Claimed)]
        lost = [r for r in results if isinstance(r, ClaimLost)]
        for result in lost:
            logger.debug("Flow run %s was taken by someone else: %s", result.run_id, result.reason)
            self._in_flight.release(result.run_id)
        answered = {r.run_id for r in results}
        self._release([run for run in runs if run.id not in answered])
        self._health.claims(len(won), len(lost))
        if not won:
            return
        batch = _LogBatch(len(won), self._source.write_logs)
        for run, version in won:
            try:
                self._executor.submit(self._launch, run, version, batch)
            except RuntimeError:  # the pool is shutting down: a claimed run is still started
                self._launch(run, version, batch)

    def fail(self, run_id: str, reason: str, version: int | None) -> None:
        """Fail a claimed run that cannot be launched (its row cannot be read)."""
        self._health.launch_failed(run_id, reason)
        self._failer.fail(run_id, reason, version)

    def launch_claimed(self, runs: Sequence[FlowRun]) -> None:
        """Launch runs already claimed (Submitted) by this agent, each read at the version it
        was claimed at (``RunSource.claimed_runs``); they must be reserved in ``in_flight``."""
        if not runs:
            return
        batch = _LogBatch(len(runs), self._source.write_logs)
        for run in runs:
            try:
                self._executor.submit(self._launch, run, run.version + 1, batch)
            except RuntimeError:  # the pool is shutting down: a claimed run is still started
                self._launch(run, run.version + 1, batch)

    def _try_again_later(self, runs: Sequence[FlowRun], problem: str) -> None:
        """Deploy the same runs again later, on the backoff ladder, keeping them reserved.

        After a failed claim request the source may not know what it applied: releasing the
        runs would strand any claim that did apply (Submitted, never launched), since the
        poll no longer lists them. Trying the same claim again lets the source recognise the
        claims its earlier attempt wrote. The runs stay in flight meanwhile, so no poll
        deploys them twice, and polls back off instead of finding them again and again.
        """
        if self._stopping():
            logger.error("Not deploying %d flow run(s): %s", len(runs), problem)
            self._release(runs)
            return
        attempt = 1 + max(self._claim_attempts.get(run.id, 0) for run in runs)
        for run in runs:
            self._claim_attempts[run.id] = attempt
        delay = backoff_delay(attempt)
        logger.error(
            "Not deploying %d flow run(s) yet, %s; trying again in %ss", len(runs), problem, delay
        )
        self._backoff(runs, delay)

    def _launch(self, run: FlowRun, version: int, batch: _LogBatch) -> None:
        log: RunLog | None = None
        try:
            logger.info("Deploying flow run %s to execution environment...", run.id)
            spec = build_launch_spec(
                run,
                self._config,
                tenant_id=self._source.tenant_id,
                default_command_prefix=self._platform.default_command_prefix,
            )
            launched = self._platform.launch(run, spec)
        except LaunchError as exc:
            self._launch_failed(run, version, exc.reason)
        except PlatformUnavailable as exc:
            self._launch_failed(run, version, f"The platform was unavailable: {exc}")
        except Exception as exc:  # any other bug or library error fails this run, not the agent
            logger.exception("Unexpected error launching flow run %s", run.id)
            self._launch_failed(run, version, f"{type(exc).__name__}: {exc}")
        else:
            log = RunLog(
                run_id=run.id,
                message=f"Submitted for execution: {launched.info}",
                name=self._config.name,
                timestamp=self._clock.now(),  # when it happened, not when the batch is written
            )
            lateness = (self._clock.now() - run.due_at(self._clock.now())).total_seconds()
            self._health.launched(run.id, max(0.0, lateness))
            self._on_launched(run)
            logger.info("Completed deployment of flow run %s: %s", run.id, launched.info)
        finally:
            self._in_flight.release(run.id)
            self._health.in_flight(len(self._in_flight))
            batch.add(log)

    def _launch_failed(self, run: FlowRun, version: int, reason: str) -> None:
        logger.error("Exception encountered while deploying flow run %s: %s", run.id, reason)
        self._health.launch_failed(run.id, reason)
        self._failer.fail(run.id, reason, version)

    def _release(self, runs: Sequence[FlowRun]) -> None:
        for run in runs:
            self._in_flight.release(run.id)
        self._health.in_flight(len(self._in_flight))

"""The agent's lifecycle: register, adopt earlier runs, poll, deploy on time, watch, stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import StoppedBeforeStart, TransientError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.poll_schedule import BACKOFF_LADDER
from prefect_agent.ports import Clock, HealthReporter, Platform, RunSource
from prefect_agent.services.deployment import Deployer
from prefect_agent.services.in_flight import InFlightRuns
from prefect_agent.services.monitoring import InfrastructureMonitor
from prefect_agent.services.null_health import NullHealthReporter
from prefect_agent.services.poll_loop import PollLoop
from prefect_agent.services.timer_queue import TimerQueue

logger = logging.getLogger(__name__)

SCHEDULER_JOIN_SECONDS = 60.0
"""Real seconds shutdown waits for a scheduler still inside a claim before closing anyway."""


class AgentService:
    """One agent: wires the poll loop, the timer queue, the deployer and the monitor.

    Threads: ``run()`` polls on the caller's thread; one scheduler thread launches runs when
    they are due and checks on launched infrastructure every ``monitor_interval``; a pool of
    ``deploy_concurrency`` threads performs the launches. Nothing here sleeps on its own:
    every wait goes through ``Clock``.

    ``stop()`` (from a signal handler or another thread) stops polling, drops runs that are
    not yet due (unclaimed, so they stay Scheduled), lets launches in progress finish within
    ``shutdown_grace_seconds``, and makes ``run()`` return. Launched runs keep running.
    """

    def __init__(
        self,
        *,
        config: AgentConfig,
        source: RunSource,
        platform: Platform,
        clock: Clock,
        health: HealthReporter | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.platform = platform
        self.clock = clock
        self.health: HealthReporter = health or NullHealthReporter()
        self.agent_id: str | None = None
        self.agent_config_settings: Mapping[str, Any] | None = None
        self._stopping = threading.Event()
        self.in_flight = InFlightRuns()
        self.timers: TimerQueue[FlowRun] = TimerQueue()
        self.monitor = InfrastructureMonitor(
            source=source, platform=platform, health=self.health, agent_name=config.name
        )
        self._executor = executor or ThreadPoolExecutor(
            max_workers=config.deploy_concurrency, thread_name_prefix="launch"
        )
        self.deployer = Deployer(
            config=config,
            source=source,
            platform=platform,
            clock=clock,
            health=self.health,
            in_flight=self.in_flight,
            executor=self._executor,
            on_launched=lambda run: self.monitor.watch(run.id),
            requeue=self._requeue,
            stopping=self._stopping.is_set,
        )
        self.poll_loop = PollLoop(
            config=config,
            source=source,
            clock=clock,
            health=self.health,
            in_flight=self.in_flight,
            schedule=self.schedule,
        )
        self._scheduler_wake = threading.Event()
        self._draining = threading.Event()
        self._scheduler: threading.Thread | None = None

    # -- start-up -----------------------------------------------------------------------

    def register(self) -> str:
        """Register with the API, retrying on the backoff ladder while it is unreachable (at
        most ``max_polls`` attempts when that is set; then the last error is raised)."""
        step = 0
        while True:
            try:
                self.agent_id = self.source.register(
                    agent_type=self.config.kind.agent_type,
                    name=self.config.name,
                    labels=self.config.labels,
                    agent_config_id=self.config.agent_config_id,
                )
                break
            except TransientError as exc:
                self.health.poll_failed(self.clock.now(), exc)
                step += 1
                if self.config.max_polls is not None and step >= max(1, self.config.max_polls):
                    # Each attempt counts as a poll: `--max-polls N` ends after N attempts
                    # whether or not the API answered.
                    raise
                delay = BACKOFF_LADDER[min(step - 1, len(BACKOFF_LADDER) - 1)]
                # The error names the API's address already.
                logger.warning("Could not register the agent: %s; retrying in %ss", exc, delay)
                if self.clock.wait(self._stopping, delay):
                    raise StoppedBeforeStart(
                        f"stopped while waiting for the Prefect API at {self.config.api_display}"
                    ) from None
        if self.config.agent_config_id:
            self.agent_config_settings = self.source.agent_config_settings(
                self.config.agent_config_id
            )
        return self.agent_id

    def adopt(self) -> Sequence[str]:
        """Watch runs this platform launched before a restart."""
        adopted = self.platform.adopt()
        for run_id in adopted:
            self.monitor.watch(run_id)
        if adopted:
            logger.info("Watching %d flow run(s) launched before this agent started", len(adopted))
        return adopted

    # -- running ------------------------------------------------------------------------

    def run(self) -> None:
        """Register, adopt, then poll until stopped or ``max_polls`` is reached."""
        if self.agent_id is None:
            try:
                self.register()
            except StoppedBeforeStart as exc:
                logger.info("Agent %r %s", self.config.name, exc)
                self.shutdown()
                return
            except TransientError:  # max_polls attempts made without reaching the API
                self.shutdown()
                raise
        self.adopt()
        logger.info(
            "Starting %s %r with labels %s",
            self.config.kind.agent_type,
            self.config.name,
            list(self.config.labels),
        )
        self.start_scheduler()
        try:
            self.poll_loop.run()
            if not self._stopping.is_set():
                # max_polls reached: deploy what was already accepted, as Prefect 1 does.
                self._draining.set()
                self._scheduler_wake.set()
                self.wait_until_idle()
        finally:
            self.shutdown()

    def step(self) -> int:
        """One deterministic turn without threads: poll, deploy what is due now, check launches.

        For tests and embedding with a ``FakeClock`` (pass an inline executor to make the
        launches synchronous too). Returns how many new runs the poll found.
        """
        found = self.poll_loop.poll_once()
        self.deployer.deploy(self.timers.pop_due(self.clock.now()))
        self.monitor.check()
        return found

    def start_scheduler(self) -> None:
        if self._scheduler is None:
            self._scheduler = threading.Thread(
                target=self._scheduler_loop, name="scheduler", daemon=True
            )
            self._scheduler.start()

    def schedule(self, runs: Sequence[FlowRun]) -> None:
        """Queue runs (already reserved in ``in_flight``) to be deployed at their start time."""
        now = self.clock.now()
        for run in runs:
            self.timers.push(run.due_at(now), run)
        self._scheduler_wake.set()

    def _requeue(self, runs: Sequence[FlowRun], delay: float) -> None:
        """Deploy these (still reserved) runs again ``delay`` seconds from now."""
        due = self.clock.now() + timedelta(seconds=delay)
        for run in runs:
            self.timers.push(due, run)
        self._scheduler_wake.set()

    def wake(self) -> None:
        """Poll now (``/api/poke``)."""
        self.poll_loop.wake()

    def stop(self) -> None:
        """Stop polling and deploying; safe to call from a signal handler."""
        self._stopping.set()
        self.poll_loop.stop()
        self._scheduler_wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wait_until_idle(self) -> None:
        """Block until nothing is queued or being launched (or the agent stops)."""
        # Queued runs are reserved in ``in_flight`` too, so its idle event covers both.
        while not self._stopping.is_set():
            if self.clock.wait(self.in_flight.idle, 1.0):
                return

    def shutdown(self) -> None:
        self._stopping.set()
        self._scheduler_wake.set()
        if self._scheduler is not None:
            self._scheduler.join(timeout=self.config.shutdown_grace_seconds)
        dropped = self.timers.drain()
        for run in dropped:
            self.in_flight.release(run.id)
        if dropped:
            logger.info("Left %d not-yet-due flow run(s) unclaimed for a later start", len(dropped))
        self._wait_for_launches()
        # Claimed runs must be started, not stranded in Submitted: the pool finishes its queue
        # (launches are quick) before the platform closes, even past the grace period.
        self._executor.shutdown(wait=True)
        if self._scheduler is not None:
            # A claim slower than the grace period is bounded by request timeouts; its runs
            # are launched (inline, the pool being shut) before the platform closes.
            self._scheduler.join(
                timeout=max(SCHEDULER_JOIN_SECONDS, self.config.request_timeout * 4)
            )
            if self._scheduler.is_alive():
                logger.warning("The scheduler is still busy; closing the platform anyway")
        self.monitor.check()
        try:
            self.platform.close()
        except Exception:
            logger.exception("Error while closing the platform")
        logger.info("Agent %r stopped", self.config.name)

    def _wait_for_launches(self) -> None:
        if not self.clock.wait(self.in_flight.idle, self.config.shutdown_grace_seconds):
            logger.warning(
                "%d claimed run(s) still launching after %ss; finishing them before exit",
                len(self.in_flight),
                self.config.shutdown_grace_seconds,
            )

    def _scheduler_loop(self) -> None:
        next_check = self.clock.now()
        while not self._stopping.is_set():
            self._scheduler_wake.clear()
            now = self.clock.now()
            due = self.timers.pop_due(now)
            try:
                if due:
                    self.deployer.deploy(due)
                if now >= next_check:
                    next_check = now + timedelta(seconds=self.config.monitor_interval)
                    self.monitor.check()
            except Exception:
                # A bug in one deployment or check must not end deployments for good.
                logger.exception("Unexpected error in the scheduler; carrying on")
                # Unclaimed runs go back to the poll; claimed ones are no longer Scheduled,
                # so releasing them cannot make a poll deploy them twice.
                for run in due:
                    self.in_flight.release(run.id)
            deadline = _earliest(self.timers.next_due(), next_check)
            timeout = max(0.0, (deadline - self.clock.now()).total_seconds())
            if due:
                continue  # more may have become due while deploying
            self.clock.wait(self._scheduler_wake, timeout)


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a

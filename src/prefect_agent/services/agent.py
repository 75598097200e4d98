"""The agent's lifecycle: register, adopt earlier runs, poll, deploy on time, watch, stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import timedelta

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.backoff_ladder import backoff_delay
from prefect_agent.domain.errors import PrefectAgentError, StoppedBeforeStart, TransientError
from prefect_agent.ports import Clock, HealthReporter, Platform, RunSource
from prefect_agent.services.backlog import BacklogPolicy
from prefect_agent.services.deployment import Deployer
from prefect_agent.services.in_flight import InFlightRuns
from prefect_agent.services.monitoring import InfrastructureMonitor
from prefect_agent.services.null_health import NullHealthReporter
from prefect_agent.services.poll_loop import PollLoop
from prefect_agent.services.run_failure import RunFailer
from prefect_agent.services.scheduler import Scheduler

logger = logging.getLogger(__name__)

SCHEDULER_JOIN_SECONDS = 60.0
"""Real seconds shutdown waits for a scheduler still inside a claim before closing anyway."""


class AgentService:
    """One agent: wires one run's path and drives its lifecycle.

    The path: ``PollLoop`` (finds runs, reserves them in ``in_flight``) -> ``on_found`` ->
    ``Scheduler`` (holds them until due) -> ``Deployer`` (claims, builds the launch spec,
    launches; ``backoff`` hands runs back to the scheduler) -> ``Platform`` -> ``on_launched``
    -> ``InfrastructureMonitor`` (fails runs whose infrastructure died, stops cancelled ones).
    Everyone who fails a run does it through the one ``RunFailer``.

    Threads: ``run()`` polls on the caller's thread; the scheduler's thread deploys runs when
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
        self._stopping = threading.Event()
        self.in_flight = InFlightRuns()
        self.failer = RunFailer(source, config.name)
        self.monitor = InfrastructureMonitor(
            source=source,
            platform=platform,
            health=self.health,
            failer=self.failer,
            agent_name=config.name,
            clock=clock,
            give_up_after=timedelta(seconds=config.operations.report_give_up_seconds),
            polls=lambda: self.poll_loop.polls,
        )
        self._executor = executor or ThreadPoolExecutor(
            max_workers=config.deploy_concurrency, thread_name_prefix="launch"
        )
        self.scheduler = Scheduler(
            clock=clock,
            in_flight=self.in_flight,
            deploy=lambda runs: self.deployer.deploy(runs),
            check=self.monitor.check,
            check_interval=config.monitor_interval,
        )
        self.deployer = Deployer(
            config=config,
            source=source,
            platform=platform,
            clock=clock,
            health=self.health,
            in_flight=self.in_flight,
            executor=self._executor,
            failer=self.failer,
            backlog=BacklogPolicy(
                settings=config.operations, failer=self.failer, agent_name=config.name
            ),
            on_launched=lambda run: self.monitor.watch(run.id),
            backoff=self.scheduler.enqueue_after,
            stopping=self._stopping.is_set,
        )
        self.poll_loop = PollLoop(
            config=config,
            source=source,
            clock=clock,
            health=self.health,
            in_flight=self.in_flight,
            failer=self.failer,
            on_found=self.scheduler.enqueue,
        )

    # -- start-up -----------------------------------------------------------------------

    def register(self) -> str:
        """Register with the API, retrying on the backoff ladder while it is unreachable (at
        most ``max_polls`` attempts when that is set; then the last error is raised)."""
        step = 0
        with_config = (
            f" with config {self.config.agent_config_id}" if self.config.agent_config_id else ""
        )
        logger.info("Registering agent%s...", with_config)
        while True:
            try:
                self.agent_id = self.source.register(
                    agent_type=self.config.kind.agent_type,
                    name=self.config.name,
                    labels=self.config.labels,
                    agent_config_id=self.config.agent_config_id,
                )
                logger.info("Registration successful!")
                break
            except TransientError as exc:
                delay = backoff_delay(step)
                self.health.poll_failed(self.clock.now(), exc, delay)
                step += 1
                if self.config.max_polls is not None and step >= max(1, self.config.max_polls):
                    # Each attempt counts as a poll: `--max-polls N` ends after N attempts
                    # whether or not the API answered.
                    raise
                # The error names the API's address already.
                logger.warning("Could not register the agent: %s; retrying in %ss", exc, delay)
                if self.clock.wait(self._stopping, delay):
                    raise StoppedBeforeStart(
                        f"stopped while waiting for the Prefect API at {self.config.api_display}"
                    ) from None
        if self.config.agent_config_id:
            # Read as Prefect 1.4.1 reads it (an unknown id fails the start), and shown only
            # at debug level: no setting in it changes what this agent does.
            settings = self.source.agent_config_settings(self.config.agent_config_id)
            logger.debug("Loaded agent config %s: %s", self.config.agent_config_id, settings)
        return self.agent_id

    def adopt(self) -> Sequence[str]:
        """Watch runs this platform launched before a restart, then launch the runs an
        earlier process of this agent claimed and never launched."""
        adopted = self.platform.adopt()
        for run_id in adopted:
            self.monitor.watch(run_id)
        if adopted:
            logger.info("Watching %d flow run(s) launched before this agent started", len(adopted))
        try:
            self.resume_claims(adopted)
        except Exception:  # a bug here must not keep the agent from serving new runs
            logger.exception("Unexpected error while resuming earlier claims")
        return adopted

    def resume_claims(self, adopted: Sequence[str] = ()) -> list[str]:
        """Launch runs still Submitted under this agent's claimant that no infrastructure
        holds: an earlier process claimed them and was killed before launching them.

        Runs the platform adopted have their infrastructure already; runs in flight are
        being launched by this process. Nothing else can launch these runs (no poll lists a
        Submitted run), so each is launched once, whether or not the API has a Lazarus.
        """
        try:
            found = self.source.claimed_runs()
        except PrefectAgentError as exc:
            # Left Submitted: the next start (or the API's Lazarus, if it has one) takes them.
            logger.warning("Could not list the runs this agent claimed before: %s", exc)
            return []
        skip = set(adopted) | set(self.monitor.watched)
        for bad in found.unreadable:
            if bad.run_id not in skip and self.in_flight.reserve([bad.run_id]):
                try:
                    self.deployer.fail(bad.run_id, bad.reason, bad.version)
                finally:
                    self.in_flight.release(bad.run_id)
        claimed = found.runs
        fresh = self.in_flight.reserve(run.id for run in claimed if run.id not in skip)
        if not fresh:
            return []
        try:
            self.platform.check()
        except PrefectAgentError as exc:
            for run_id in fresh:
                self.in_flight.release(run_id)
            logger.warning(
                "Not resuming %d flow run(s) this agent claimed before: %s", len(fresh), exc
            )
            return []
        wanted = set(fresh)
        runs = [run for run in claimed if run.id in wanted]
        logger.info("Launching %d flow run(s) claimed by this agent before it restarted", len(runs))
        self.deployer.launch_claimed(runs)
        return fresh

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
        # Prefect 1.4.1's wording: operators' alerts match these lines.
        logger.info(
            "Starting %s with labels %s", self.config.kind.agent_type, list(self.config.labels)
        )
        logger.info("Waiting for flow runs...")
        self.scheduler.start()
        try:
            self.poll_loop.run()
            if not self._stopping.is_set():
                # max_polls reached: deploy what was already accepted, as Prefect 1 does.
                self.scheduler.wake()
                self.wait_until_idle()
        finally:
            self.shutdown()

    def step(self) -> int:
        """One deterministic turn without threads: poll, deploy what is due now, check launches.

        For tests and embedding with a ``FakeClock`` (pass an inline executor to make the
        launches synchronous too). Returns how many new runs the poll found.
        """
        found = self.poll_loop.poll_once()
        self.scheduler.deploy_due()
        self.monitor.check()
        return found

    def wake(self) -> None:
        """Poll now (``/api/poke``)."""
        self.poll_loop.wake()

    def stop(self) -> None:
        """Stop polling and deploying; safe to call from a signal handler."""
        self._stopping.set()
        self.poll_loop.stop()
        self.scheduler.stop()

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
        self.scheduler.stop()
        self.scheduler.join(self.config.shutdown_grace_seconds)
        dropped = self.scheduler.drain()
        for run in dropped:
            self.in_flight.release(run.id)
        if dropped:
            logger.info("Left %d not-yet-due flow run(s) unclaimed for a later start", len(dropped))
        self._wait_for_launches()
        # Claimed runs must be started, not stranded in Submitted: the pool finishes its queue
        # (launches are quick) before the platform closes, even past the grace period.
        self._executor.shutdown(wait=True)
        # A claim slower than the grace period is bounded by request timeouts; its runs are
        # launched (inline, the pool being shut) before the platform closes.
        if not self.scheduler.join(max(SCHEDULER_JOIN_SECONDS, self.config.request_timeout * 4)):
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

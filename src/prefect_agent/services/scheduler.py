"""The scheduler: holds found runs until they are due, hands them to the deployer, paces checks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta

from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.ports import Clock
from prefect_agent.services.in_flight import InFlightRuns
from prefect_agent.services.timer_queue import TimerQueue

logger = logging.getLogger(__name__)


class Scheduler:
    """One thread between the poll loop and the deployer.

    ``enqueue(runs)`` (the poll loop's ``on_found``) queues runs, already reserved in
    ``in_flight``, for their start time; ``enqueue_after(runs, delay)`` (the deployer's
    ``backoff``) queues them again ``delay`` seconds from now. The thread sleeps (through
    ``Clock``) until the earliest run is due or the next infrastructure check, then hands every
    due run to ``deploy`` in one call and calls ``check`` every ``check_interval`` seconds.
    There is no thread per waiting run, so 1000 runs due at one instant cost one wake-up.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        in_flight: InFlightRuns,
        deploy: Callable[[Sequence[FlowRun]], None],
        check: Callable[[], object],
        check_interval: float,
    ) -> None:
        self._clock = clock
        self._in_flight = in_flight
        self._deploy = deploy
        self._check = check
        self._check_interval = check_interval
        self._timers: TimerQueue[FlowRun] = TimerQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def enqueue(self, runs: Sequence[FlowRun]) -> None:
        """Deploy these (reserved) runs at their start time."""
        now = self._clock.now()
        for run in runs:
            self._timers.push(run.due_at(now), run)
        self._wake.set()

    def enqueue_after(self, runs: Sequence[FlowRun], delay: float) -> None:
        """Deploy these (still reserved) runs again ``delay`` seconds from now."""
        due = self._clock.now() + timedelta(seconds=delay)
        for run in runs:
            self._timers.push(due, run)
        self._wake.set()

    def deploy_due(self) -> None:
        """Deploy what is due now, on the caller's thread (``AgentService.step``)."""
        self._deploy(self._timers.pop_due(self._clock.now()))

    def wake(self) -> None:
        """Look at the queue again now (more runs may be due, or the agent is draining)."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def drain(self) -> list[FlowRun]:
        """Remove and return every queued run, due or not (they are still reserved)."""
        return self._timers.drain()

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; True when it did (or never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout=timeout)
        return not self._thread.is_alive()

    def __len__(self) -> int:
        """How many runs wait in the queue."""
        return len(self._timers)

    def _loop(self) -> None:
        # Infrastructure checks follow the monotonic clock: a wall clock stepped back an hour
        # must not stop them for an hour (start times, being wall times, follow the wall).
        next_check = self._clock.monotonic()
        while not self._stopping.is_set():
            self._wake.clear()
            due = self._timers.pop_due(self._clock.now())
            try:
                if due:
                    self._deploy(due)
                if self._clock.monotonic() >= next_check:
                    next_check = self._clock.monotonic() + self._check_interval
                    self._check()
            except Exception:
                # A bug in one deployment or check must not end deployments for good.
                logger.exception("Unexpected error in the scheduler; carrying on")
                # Unclaimed runs go back to the poll; claimed ones are no longer Scheduled,
                # so releasing them cannot make a poll deploy them twice.
                for run in due:
                    self._in_flight.release(run.id)
            timeout = max(0.0, next_check - self._clock.monotonic())
            next_due = self._timers.next_due()
            if next_due is not None:
                timeout = min(timeout, max(0.0, (next_due - self._clock.now()).total_seconds()))
            if due:
                continue  # more may have become due while deploying
            self._clock.wait(self._wake, timeout)

"""A platform that records launches instead of starting anything, and reports exits on demand."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence

import attrs

from prefect_agent.domain.errors import LaunchError, PlatformUnavailable
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.outcomes import InfrastructureOutcome, Launched, RunLog
from prefect_agent.testing.faults import Faults


@attrs.frozen
class Launch:
    """One recorded start: the run, its spec, and the environment it would have had."""

    run: FlowRun
    spec: LaunchSpec
    environment: dict[str, str]


class FakePlatform:
    """Implements the ``Platform`` port in memory.

    ``launches`` lists every start; ``starts[run_id]`` counts them (a second ``launch`` of a
    run still running returns the first one, as real platforms do). ``stop`` ends a run at
    once (reported as a kill by ``outcomes``) and lists it in ``stopped``; ``acknowledged``
    lists the outcomes the agent handed back. ``report_exit`` queues
    an outcome for ``outcomes()``; ``available = False`` makes ``check`` and ``launch``
    raise ``PlatformUnavailable``; ``fail_launches_of`` makes chosen runs fail to launch.
    """

    def __init__(
        self,
        *,
        default_command_prefix: Sequence[str] = (),
        previously_launched: Iterable[str] = (),
        claimant: str = "fake-platform",
        kept_outcomes: Iterable[InfrastructureOutcome] = (),
    ) -> None:
        self._prefix = tuple(default_command_prefix)
        self.available = True
        self.unavailable_reason = "the fake platform is switched off"
        self.faults = Faults()
        self.launches: list[Launch] = []
        self.starts: Counter[str] = Counter()
        self.running: set[str] = set(previously_launched)
        self.stopped: list[str] = []
        self.acknowledged: list[str] = []
        self._claimant = claimant
        self.closed = False
        self._launch_failures: dict[str, str] = {}
        self._outcomes: list[InfrastructureOutcome] = []
        self._kept: dict[str, InfrastructureOutcome] = {o.run_id: o for o in kept_outcomes}
        """Outcomes reported and not acknowledged: ``adopt`` reports them again."""
        self._infrastructure_logs: list[RunLog] = []
        self._lock = threading.Lock()
        self.launched_event = threading.Event()
        """Set after every launch, for tests that wait for the next one."""

    @property
    def default_command_prefix(self) -> Sequence[str]:
        return self._prefix

    def fail_launches_of(self, run_id: str, reason: str) -> None:
        with self._lock:
            self._launch_failures[run_id] = reason

    def report_exit(
        self, run_id: str, exit_code: int, *, reason: str | None = None, details: Sequence[str] = ()
    ) -> None:
        """The run's infrastructure ended with ``exit_code`` (0 is success)."""
        outcome = InfrastructureOutcome(
            run_id=run_id,
            succeeded=exit_code == 0,
            exit_code=exit_code,
            reason=reason or f"exited with code {exit_code}",
            details=details,
        )
        with self._lock:
            self.running.discard(run_id)
            self._outcomes.append(outcome)
            self._kept[run_id] = outcome

    def report_log(self, run_id: str, message: str, level: str = "INFO") -> None:
        """Something happened to the run's infrastructure (an event) worth a line in its logs."""
        with self._lock:
            self._infrastructure_logs.append(
                RunLog(run_id=run_id, message=message, level=level, name="fake-infra")
            )

    def launched_ids(self) -> list[str]:
        with self._lock:
            return [launch.run.id for launch in self.launches]

    # -- the Platform port -------------------------------------------------------------------

    def check(self) -> None:
        self.faults.enter("check")
        if not self.available:
            raise PlatformUnavailable(self.unavailable_reason)

    def launch(self, run: FlowRun, spec: LaunchSpec) -> Launched:
        self.faults.enter("launch")
        if not self.available:
            raise PlatformUnavailable(self.unavailable_reason)
        with self._lock:
            if run.id in self._launch_failures:
                raise LaunchError(self._launch_failures[run.id])
            if run.id in self.running:
                return Launched(run.id, f"Fake {run.id} (already running)")
            self.running.add(run.id)
            self.starts[run.id] += 1
            self.launches.append(Launch(run, spec, spec.environment()))
        self.launched_event.set()
        return Launched(run.id, f"Fake {run.id}")

    def outcomes(self) -> Sequence[InfrastructureOutcome]:
        self.faults.enter("outcomes")
        with self._lock:
            ready, self._outcomes = self._outcomes, []
        return ready

    def infrastructure_logs(self) -> Sequence[RunLog]:
        with self._lock:
            ready, self._infrastructure_logs = self._infrastructure_logs, []
        return ready

    def adopt(self) -> Sequence[str]:
        self.faults.enter("adopt")
        with self._lock:
            again = [o for o in self._kept.values() if o not in self._outcomes]
            self._outcomes.extend(again)
            return sorted(self.running | {o.run_id for o in again})

    def unacknowledged(self) -> list[InfrastructureOutcome]:
        """Outcomes reported and not acknowledged (a restarted fake gets them back)."""
        with self._lock:
            return list(self._kept.values())

    def acknowledge(self, run_id: str) -> None:
        with self._lock:
            self.acknowledged.append(run_id)
            self._kept.pop(run_id, None)

    def stop(self, run_id: str) -> str:
        with self._lock:
            if run_id not in self.running:
                return ""
            self.running.discard(run_id)
            self.stopped.append(run_id)
            outcome = InfrastructureOutcome(
                run_id=run_id, succeeded=False, exit_code=-15, reason="stopped (SIGTERM)"
            )
            self._outcomes.append(outcome)
            self._kept[run_id] = outcome
        return f"fake infrastructure {run_id}"

    @property
    def claimant(self) -> str:
        return self._claimant

    def close(self) -> None:
        self.closed = True

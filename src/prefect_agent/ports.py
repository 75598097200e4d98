"""The agent's ports: what the services need from the outside world, as Protocols.

Each contract below is executable: ``tests/contract/`` runs one suite per port against the
shipped fake and against every real adapter.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.outcomes import (
    ClaimResult,
    InfrastructureOutcome,
    Launched,
    ReadyRuns,
    RunLog,
    RunStatus,
)


@runtime_checkable
class RunSource(Protocol):
    """Where flow runs come from and where their fate is written (the Prefect API).

    Contract:
    - ``register`` identifies the agent (type, name, labels, agent config id) and returns
      its id; it also resolves the tenant, available afterwards as ``tenant_id``.
    - ``ready_runs(labels, before, known)`` returns runs whose labels match ``labels`` under
      ``LabelPolicy`` and that are in the Scheduled family with a start time at or before
      ``before``, plus Running runs whose task runs are due for a retry, leaving out the ids
      in ``known`` (runs the agent is deploying already: not reading them again spares the
      API and the agent during a burst). Rows that cannot be read are returned in
      ``unreadable`` instead of failing the whole call.
    - ``claim(runs)`` moves each run to Submitted *if* it is still at the version it was read
      at (and each due task run likewise), returning ``Claimed`` with the new version or
      ``ClaimLost``. It never raises for a lost race. Implementations batch the claims of one
      call into as few requests as they can.
    - ``mark_failed(run_id, message, version)`` sets Failed, version-locked when ``version``
      is given; a stale version raises ``VersionConflict``.
    - ``write_logs(logs)`` stores log records (batched).
    - ``run_status(run_id)`` returns the run's current state, version and labels, and in
      ``details`` its run config (or why it cannot be read), its flow's storage type and,
      while scheduled, its start time.
    - ``cancelled_among(run_ids)`` returns, in one request however many ids it is given, the
      status of those runs a user cancelled (``Cancelling`` or ``Cancelled``).
    - ``mark_cancelled(run_id, message, version)`` sets Cancelled, version-locked like
      ``mark_failed``.
    - ``claimed_runs()`` returns the runs still Submitted under this source's claimant (a name
      that outlives the process: its claims, and those of earlier processes of the same
      agent), each at the version it was claimed at, so a restarted agent launches what its
      predecessor claimed and never started (rows it cannot read in ``unreadable``).
    Transient failures raise ``TransientError`` subclasses; refusals raise ``ApiError``.
    """

    @property
    def tenant_id(self) -> str | None: ...

    def register(
        self, *, agent_type: str, name: str, labels: Sequence[str], agent_config_id: str | None
    ) -> str: ...

    def agent_config_settings(self, agent_config_id: str) -> Mapping[str, Any]: ...

    def ready_runs(
        self, labels: Sequence[str], before: datetime, known: Collection[str] = frozenset()
    ) -> ReadyRuns: ...

    def claim(self, runs: Sequence[FlowRun]) -> Sequence[ClaimResult]: ...

    def mark_failed(self, run_id: str, message: str, version: int | None) -> None: ...

    def write_logs(self, logs: Sequence[RunLog]) -> None: ...

    def run_status(self, run_id: str) -> RunStatus: ...

    def cancelled_among(self, run_ids: Collection[str]) -> Sequence[RunStatus]: ...

    def mark_cancelled(self, run_id: str, message: str, version: int | None) -> None: ...

    def claimed_runs(self) -> ReadyRuns: ...


@runtime_checkable
class Platform(Protocol):
    """Where runs are started: subprocesses, containers or Kubernetes Jobs.

    Contract:
    - ``default_command_prefix`` goes before ``prefect execute flow-run`` when the agent has
      no command of its own.
    - ``check()`` raises ``PlatformUnavailable`` when nothing could be launched now (engine or
      API server down); the agent then claims nothing until it passes again.
    - ``launch(run, spec)`` starts the run under a name derived from ``spec.run_id`` and
      returns ``Launched``. Launching a run that is already running (same id) returns the
      existing one instead of starting it twice. A problem of this run raises ``LaunchError``;
      an unavailable platform raises ``PlatformUnavailable``.
    - ``outcomes()`` returns, without blocking, what became of launched runs since the last
      call: each run's infrastructure is reported once when it ends. The verdict is kept
      (on disk, on the container or Job) until ``acknowledge(run_id)``, so a platform built
      by a restarted agent reports it again from ``adopt`` and ``outcomes``.
    - ``acknowledge(run_id)`` says the API has what the outcome of ``run_id`` caused (or
      needed nothing): the platform forgets the verdict and cleans up by its policy.
    - ``infrastructure_logs()`` returns, without blocking, log records about launched runs'
      infrastructure since the last call (pod events, container states), each once; the
      agent writes them to the runs' logs. Platforms with nothing to say return ``()``.
    - ``adopt()`` returns the ids of runs launched earlier (by a previous agent process) that
      are still known to the platform, and watches them from then on.
    - ``stop(run_id)`` stops a run's infrastructure if it still exists (idempotent), without
      waiting for it to end (escalation after ``stop_grace_seconds`` is the platform's), and
      says what it stopped in a few words ("" when nothing was left); the end is then
      reported by ``outcomes()`` like any other.
    - ``claimant`` names this agent's claims durably: the same for a restarted agent, never
      the same for two agents whose launches cannot see each other.
    - ``close()`` releases resources; launched runs keep running.
    """

    @property
    def default_command_prefix(self) -> Sequence[str]: ...

    def check(self) -> None: ...

    def launch(self, run: FlowRun, spec: LaunchSpec) -> Launched: ...

    def outcomes(self) -> Sequence[InfrastructureOutcome]: ...

    def infrastructure_logs(self) -> Sequence[RunLog]: ...

    def adopt(self) -> Sequence[str]: ...

    def acknowledge(self, run_id: str) -> None: ...

    def stop(self, run_id: str) -> str: ...

    @property
    def claimant(self) -> str: ...

    def close(self) -> None: ...


@runtime_checkable
class ConfigSource(Protocol):
    """One layer of settings (packaged defaults, TOML file, environment, arguments, flags).

    Contract: ``values()`` returns a flat mapping from dotted keys (``cloud.agent.labels``)
    to values already parsed from the layer's syntax, only for keys the layer sets;
    ``origin(key)`` names where a key's value came from, for error messages and
    ``prefect agent <type> config`` (``file ~/.prefect/config.toml:3``,
    ``env PREFECT__CLOUD__API``, ``flag --label``). A malformed layer raises ``ConfigError``
    naming the source.
    """

    @property
    def name(self) -> str: ...

    def values(self) -> Mapping[str, Any]: ...

    def origin(self, key: str) -> str: ...


@runtime_checkable
class HealthReporter(Protocol):
    """Receives the agent's health facts and exposes them (HTTP health, readiness, metrics).

    Contract: every method returns quickly and never raises into the agent; calls come from
    several threads. ``poll_succeeded``/``poll_failed`` after every poll (and every failed
    registration), with ``next_poll_in``: the seconds the agent waits before trying again, so
    a liveness verdict follows the loop's own interval; the rest as events happen.
    """

    def poll_succeeded(self, at: datetime, runs_found: int, next_poll_in: float) -> None: ...

    def poll_failed(self, at: datetime, error: BaseException, next_poll_in: float) -> None: ...

    def platform_checked(self, ok: bool, reason: str = "") -> None: ...

    def claims(self, won: int, lost: int) -> None: ...

    def launched(self, run_id: str, lateness_seconds: float) -> None: ...

    def launch_failed(self, run_id: str, reason: str) -> None: ...

    def infrastructure_failed(self, run_id: str, reason: str) -> None: ...

    def in_flight(self, count: int) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """Time for the services. They never read the system clock or sleep on their own.

    Contract: ``now()`` is timezone-aware UTC; ``monotonic()`` is seconds from an arbitrary
    origin that never goes back (every interval is measured with it: a wall clock stepped
    back or forward must not stop or rush checks); ``wait(event, timeout)`` returns True as
    soon as ``event`` is set, or False once ``timeout`` monotonic seconds have passed
    (``None`` waits for the event only).
    """

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def wait(self, event: threading.Event, timeout: float | None) -> bool: ...

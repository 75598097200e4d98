"""Typed results of the agent's actions: claims, launches, what became of infrastructure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.frozen import frozen_map, str_tuple


@attrs.frozen
class Claimed:
    """The run is ours: it is Submitted and now at ``version``."""

    run_id: str
    version: int


@attrs.frozen
class ClaimLost:
    """Someone else changed the run first (another agent, a user). A normal outcome."""

    run_id: str
    reason: str = "the run's version changed before the claim"


ClaimResult = Claimed | ClaimLost


@attrs.frozen
class Launched:
    """The platform started the run; ``info`` is shown in the run's logs (e.g. ``PID: 42``)."""

    run_id: str
    info: str
    handle: str = ""


@attrs.frozen(kw_only=True)
class InfrastructureOutcome:
    """What became of a launched run's infrastructure (a process, container or job).

    ``succeeded`` is False when it failed on its own terms: a non-zero exit, OOMKilled,
    an image that could not be pulled, a pod stuck Pending, a container that vanished.
    ``reason`` says which in one line; ``details`` holds the last output lines or events;
    ``ended_at`` when the platform knows it (a verdict kept across restarts keeps its time).
    """

    run_id: str
    succeeded: bool
    reason: str = ""
    exit_code: int | None = None
    details: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    ended_at: datetime | None = None


@attrs.frozen(kw_only=True)
class UnreadableRun:
    """A run the source listed but could not turn into a FlowRun; it is failed with ``reason``."""

    run_id: str
    reason: str
    version: int | None = None


@attrs.frozen(kw_only=True)
class ReadyRuns:
    """One poll's result: runs ready to deploy, and rows that were malformed."""

    runs: tuple[FlowRun, ...] = attrs.field(default=(), converter=tuple)
    unreadable: tuple[UnreadableRun, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen(kw_only=True)
class RunLog:
    """One log record written to a run (``timestamp`` None lets the API use now)."""

    run_id: str
    message: str
    level: str = "INFO"
    name: str = "agent"
    timestamp: datetime | None = None
    task_run_id: str | None = None


@attrs.frozen(kw_only=True)
class RunStatus:
    """A run's current state name and version, as read from the source."""

    run_id: str
    state: str
    version: int
    labels: tuple[str, ...] = ()
    extra: Mapping[str, object] = attrs.field(factory=dict, converter=frozen_map)

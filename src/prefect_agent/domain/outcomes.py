"""Typed results of the agent's actions: claims, launches, what became of infrastructure."""

from __future__ import annotations

from datetime import datetime

import attrs

from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.frozen import str_tuple
from prefect_agent.domain.run_config import RunConfig


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
class RunDetails:
    """What judging whether an agent would launch a run needs besides its state and labels."""

    run_config: RunConfig | None = None
    """None: the run has none (the platform's defaults), or it cannot be read."""
    run_config_error: str | None = None
    """Why the run config cannot be read; the run would be failed with it."""
    storage_type: str | None = None
    """The flow's storage (``Docker``, ``Local``, ...), when the flow has one."""
    start_time: datetime | None = None
    """The start time of a run in the Scheduled family (None: due now)."""


@attrs.frozen(kw_only=True)
class RunStatus:
    """A run's current state name and version, as read from the source.

    ``details`` come with ``RunSource.run_status`` (None where a source reads no more than
    the state, as ``cancelled_among`` does)."""

    run_id: str
    state: str
    version: int
    labels: tuple[str, ...] = ()
    details: RunDetails | None = None

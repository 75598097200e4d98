"""Why this agent would or would not pick up a given flow run: labels, run config, state, time."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

import attrs

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import IncompatibleRunConfig, LaunchError
from prefect_agent.domain.labels import LabelPolicy
from prefect_agent.domain.launch_spec import platform_run_config
from prefect_agent.domain.outcomes import RunDetails, RunStatus
from prefect_agent.domain.states import RUNNING, is_finished, is_scheduled
from prefect_agent.ports import Clock, RunSource


class Verdict(Enum):
    LAUNCH = "would launch it"
    LAUNCH_LATER = "would launch it at its start time"
    RETRY_ONLY = "would launch it only when one of its task runs is due for a retry"
    FAIL = "would pick it up and fail it"
    SKIP = "would pick it up and skip it (Failed) under the backlog policy"
    IGNORE = "would not pick it up"


@attrs.frozen
class Check:
    """One reason: ``passed`` is None when the facts needed are unknown."""

    name: str
    passed: bool | None
    detail: str


@attrs.frozen
class Explanation:
    run_id: str
    verdict: Verdict
    checks: tuple[Check, ...]

    @property
    def picked_up(self) -> bool:
        return self.verdict is not Verdict.IGNORE

    def render(self) -> str:
        marks = {True: "ok ", False: "NO ", None: "?  "}
        lines = [f"Flow run {self.run_id}: this agent {self.verdict.value}."]
        lines += [f"  [{marks[c.passed]}] {c.name}: {c.detail}" for c in self.checks]
        return "\n".join(lines)


def explain(status: RunStatus, config: AgentConfig, now: datetime) -> Explanation:
    """Judge a run against this agent's configuration, as its poll and deploy would.

    Without ``status.details`` the run config and start time are unknown and left unjudged.
    """
    state = _state_check(status.state)
    labels = LabelPolicy.explain(status.labels, config.labels)
    label_check = Check("labels", labels.matches, labels.reason)
    config_check = _run_config_check(status.run_id, status.details, config)
    checks = [state, label_check, config_check]
    start = status.details.start_time if status.details is not None else None
    time_check, late_by = _time_check(start, config, now)
    if time_check is not None:
        checks.append(time_check)
    if state.passed is False or not labels.matches:
        verdict = Verdict.IGNORE
    elif config_check.passed is False:
        verdict = Verdict.FAIL
    elif status.state == RUNNING:
        verdict = Verdict.RETRY_ONLY
    elif late_by is not None and config.operations.skips_backlog(late_by):
        verdict = Verdict.SKIP
    elif time_check is not None and time_check.passed is None:
        verdict = Verdict.LAUNCH_LATER
    else:
        verdict = Verdict.LAUNCH
    return Explanation(status.run_id, verdict, tuple(checks))


def _state_check(state: str) -> Check:
    if is_scheduled(state):
        return Check("state", True, f"{state}: waiting for an agent")
    if state == RUNNING:
        return Check(
            "state", True, "Running: taken again only to retry task runs whose retry is due"
        )
    if is_finished(state):
        return Check("state", False, f"{state}: the run is finished")
    return Check("state", False, f"{state}: another agent or the run itself already has it")


def _run_config_check(run_id: str, details: RunDetails | None, config: AgentConfig) -> Check:
    accepted = config.kind.run_config_type
    agent = f"a {config.kind.value} agent runs {accepted.__name__} or UniversalRun"
    if details is None:
        return Check("run config", None, f"not reported by the API adapter; {agent}")
    if details.run_config_error is not None:
        return Check(
            "run config", False, f"unreadable ({details.run_config_error!r}); the run would fail"
        )
    name = type(details.run_config).__name__ if details.run_config is not None else None
    try:
        # The deployer's own rule, so this verdict and the deployer's cannot drift apart.
        platform_run_config(details.run_config, details.storage_type, config.kind, run_id=run_id)
    except IncompatibleRunConfig:
        return Check(
            "run config",
            False,
            f"{name}: {agent}, so the run would be marked Failed with the reason",
        )
    except LaunchError as exc:
        return Check(
            "run config", False, f"{exc.reason}; the run would be marked Failed with this reason"
        )
    if name is None:
        return Check("run config", True, "none: the platform's defaults apply")
    return Check("run config", True, f"{name}: {agent}")


def _time_check(
    start: datetime | None, config: AgentConfig, now: datetime
) -> tuple[Check | None, float | None]:
    if start is None:
        return None, None
    picked_from = start - timedelta(seconds=config.prefetch_seconds)
    if picked_from > now:
        seconds = (start - now).total_seconds()
        return (
            Check(
                "start time",
                None,
                f"{start.isoformat()} ({seconds:.0f}s from now); fetched "
                f"{config.prefetch_seconds:g}s ahead and launched on time",
            ),
            None,
        )
    late = max(0.0, (now - start).total_seconds())
    threshold = config.operations.backlog_threshold_seconds
    if start > now:
        detail = f"{start.isoformat()} (in {(start - now).total_seconds():.0f}s)"
    else:
        detail = f"{start.isoformat()} ({late:.0f}s ago)"
    if threshold is not None and late > threshold:
        detail += (
            f"; later than the backlog threshold of {threshold:g}s "
            f"(policy '{config.operations.backlog_policy}')"
        )
    return Check("start time", True, detail), late


class RunExplainer:
    """Reads a run through the ``RunSource`` and explains it for this agent's config."""

    def __init__(self, *, source: RunSource, config: AgentConfig, clock: Clock) -> None:
        self._source = source
        self._config = config
        self._clock = clock

    def explain(self, run_id: str) -> Explanation:
        """Raises the source's errors (``ApiError`` for an unknown id) to the caller."""
        return explain(self._source.run_status(run_id), self._config, self._clock.now())

"""Why this agent would or would not pick up a given flow run: labels, run config, state, time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum

import attrs

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.labels import LabelPolicy
from prefect_agent.domain.outcomes import RunStatus
from prefect_agent.domain.run_config import RUN_CONFIG_TYPES, RunConfig, accepts
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


_UNKNOWN = object()


@attrs.frozen(kw_only=True)
class RunFacts:
    """What explaining needs to know about a run.

    ``run_config`` is ``_UNKNOWN`` when the source did not report it; ``None`` means the run
    has none (all defaults), which every platform accepts.
    """

    run_id: str
    state: str
    labels: tuple[str, ...]
    run_config: object = _UNKNOWN
    start_time: datetime | None = None

    @classmethod
    def from_flow_run(cls, run: FlowRun) -> RunFacts:
        return cls(
            run_id=run.id,
            state=run.state,
            labels=run.labels,
            run_config=run.run_config,
            start_time=run.start_time,
        )

    @classmethod
    def from_status(cls, status: RunStatus) -> RunFacts:
        """From ``RunSource.run_status``; ``extra`` may carry ``run_config`` and ``start_time``."""
        extra: Mapping[str, object] = status.extra
        start = extra.get("start_time")
        return cls(
            run_id=status.run_id,
            state=status.state,
            labels=tuple(status.labels),
            run_config=extra.get("run_config", _UNKNOWN),
            start_time=start if isinstance(start, datetime) else None,
        )


def explain(facts: RunFacts, config: AgentConfig, now: datetime) -> Explanation:
    """Judge ``facts`` against this agent's configuration, as its poll and deploy would."""
    state = _state_check(facts.state)
    labels = LabelPolicy.explain(facts.labels, config.labels)
    label_check = Check("labels", labels.matches, labels.reason)
    config_check = _run_config_check(facts.run_config, config)
    checks = [state, label_check, config_check]
    time_check, late_by = _time_check(facts.start_time, config, now)
    if time_check is not None:
        checks.append(time_check)
    if state.passed is False or not labels.matches:
        verdict = Verdict.IGNORE
    elif config_check.passed is False:
        verdict = Verdict.FAIL
    elif facts.state == RUNNING:
        verdict = Verdict.RETRY_ONLY
    elif late_by is not None and config.operations.skips_backlog(late_by):
        verdict = Verdict.SKIP
    elif time_check is not None and time_check.passed is None:
        verdict = Verdict.LAUNCH_LATER
    else:
        verdict = Verdict.LAUNCH
    return Explanation(facts.run_id, verdict, tuple(checks))


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


def _run_config_check(run_config: object, config: AgentConfig) -> Check:
    accepted = config.kind.run_config_type
    agent = f"a {config.kind.value} agent runs {accepted.__name__} or UniversalRun"
    if run_config is _UNKNOWN:
        return Check("run config", None, f"not reported by the API adapter; {agent}")
    if run_config is None:
        return Check("run config", True, "none: the platform's defaults apply")
    if not isinstance(run_config, tuple(RUN_CONFIG_TYPES.values())):
        return Check("run config", False, f"unreadable ({run_config!r}); the run would fail")
    typed: RunConfig = run_config  # type: ignore[assignment]
    name = type(typed).__name__
    if accepts(typed, accepted):
        return Check("run config", True, f"{name}: {agent}")
    return Check(
        "run config", False, f"{name}: {agent}, so the run would be marked Failed with the reason"
    )


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
        status = self._source.run_status(run_id)
        return explain(RunFacts.from_status(status), self._config, self._clock.now())

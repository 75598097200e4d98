"""What a described ECS task says about its run: still going, succeeded, or failed and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect_agent.domain.outcomes import InfrastructureOutcome

FLOW_CONTAINER = "flow"
AGENT_STOP_REASON = "Stopped by prefect-agent"
"""How the stop reason of a task the agent stopped (a cancelled run) begins."""


def task_id(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1]


def _flow_container(task: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = list(task.get("containers") or ())
    for container in containers:
        if container.get("name") == FLOW_CONTAINER:
            return container  # type: ignore[no-any-return]
    return containers[0] if containers else {}


def judge(run_id: str, task: Mapping[str, Any]) -> InfrastructureOutcome | None:
    """The outcome of a STOPPED task (None while it is not stopped). Exit code 0 of the flow
    container is success; a non-zero code, or a stop before the container exited, is a
    failure whose reason holds the task's stop reason and the container's own reason. A task
    the agent stopped is a failure whatever the code: a flow process may well exit 0 on the
    SIGTERM, but the run did not finish."""
    if task.get("lastStatus") != "STOPPED":
        return None
    container = _flow_container(task)
    name = container.get("name") or FLOW_CONTAINER
    code = container.get("exitCode")
    stopped = task.get("stoppedReason") or task.get("stopCode") or ""
    details = tuple(
        f"{key}: {value}"
        for key, value in (
            ("task", task.get("taskArn")),
            ("stopCode", task.get("stopCode")),
            ("stoppedReason", task.get("stoppedReason")),
            (f"container {name} reason", container.get("reason")),
        )
        if value
    )
    if code == 0 and not str(task.get("stoppedReason") or "").startswith(AGENT_STOP_REASON):
        return InfrastructureOutcome(run_id=run_id, succeeded=True, exit_code=0, details=details)
    ident = task_id(str(task.get("taskArn") or ""))
    if code is not None:
        reason = f"ECS task {ident} stopped: container {name} exited with code {code}"
    else:
        reason = f"ECS task {ident} stopped before container {name} exited"
    if container.get("reason"):
        reason += f" ({container['reason']})"
    if stopped:
        reason += f"; stop reason: {stopped}"
    return InfrastructureOutcome(
        run_id=run_id,
        succeeded=False,
        reason=reason,
        exit_code=code if isinstance(code, int) else None,
        details=details,
    )


def vanished(run_id: str, task_arn: str) -> InfrastructureOutcome:
    return InfrastructureOutcome(
        run_id=run_id,
        succeeded=False,
        reason=f"ECS task {task_id(task_arn)} no longer exists (describe_tasks: MISSING)",
    )

from __future__ import annotations

from typing import Any

from prefect_agent.adapters.kubernetes.job_status import (
    container_states,
    event_line,
    is_pending,
    judge,
    pods_of,
)

JOB = {"metadata": {"name": "prefect-j"}, "spec": {"backoffLimit": 0}, "status": {}}


def pod(phase: str, *states: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": f"p-{phase.lower()}", "labels": {"job-name": "prefect-j"}},
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"name": "flow", "image": "img:1", "state": state} for state in states
            ],
            **status,
        },
    }


def verdict(*pods: dict[str, Any], job: dict[str, Any] = JOB, pending_for: float | None = None):  # type: ignore[no-untyped-def]
    return judge(job, list(pods), pending_for=pending_for, pending_deadline=60)


def test_running_is_no_verdict() -> None:
    assert verdict(pod("Running", {"running": {}})) is None


def test_success() -> None:
    result = verdict(pod("Succeeded", {"terminated": {"exitCode": 0}}))
    assert result is not None and result.succeeded and result.exit_code == 0


def test_complete_condition_is_success_without_pods() -> None:
    job = {**JOB, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    result = verdict(job=job)
    assert result is not None and result.succeeded


def test_exit_code() -> None:
    result = verdict(pod("Failed", {"terminated": {"exitCode": 3, "reason": "Error"}}))
    assert result is not None and not result.succeeded
    assert result.exit_code == 3
    assert "exited with code 3 (Error)" in result.reason


def test_oom_killed() -> None:
    result = verdict(pod("Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}))
    assert result is not None
    assert "OOMKilled" in result.reason and result.exit_code == 137


def test_eviction() -> None:
    result = verdict(
        pod("Failed", reason="Evicted", message="The node was low on resource: memory.")
    )
    assert result is not None
    assert "was evicted: The node was low on resource: memory." in result.reason


def test_image_pull_error_fails_while_kubernetes_still_waits() -> None:
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
    result = verdict(pod("Pending", waiting))
    assert result is not None and not result.succeeded and result.still_active
    assert "could not pull img:1 (ImagePullBackOff): Back-off pulling image" in result.reason


def test_a_failed_pod_within_the_backoff_limit_is_not_the_end() -> None:
    job = {**JOB, "spec": {"backoffLimit": 2}}
    assert verdict(pod("Failed", {"terminated": {"exitCode": 1}}), job=job) is None


def test_the_failed_condition_ends_it_even_without_pods() -> None:
    job = {
        **JOB,
        "status": {
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "message": "Job was active longer than specified deadline",
                }
            ]
        },
    }
    result = verdict(job=job)
    assert result is not None and "longer than specified deadline" in result.reason


def test_pending_past_the_deadline() -> None:
    unschedulable = pod(
        "Pending",
        conditions=[
            {"type": "PodScheduled", "status": "False", "message": "0/3 nodes are available"}
        ],
    )
    assert verdict(unschedulable, pending_for=59) is None
    result = verdict(unschedulable, pending_for=61)
    assert result is not None and result.still_active
    assert "still Pending after 61 seconds" in result.reason
    assert "0/3 nodes are available" in result.reason


def test_no_pod_at_all_past_the_deadline() -> None:
    result = verdict(pending_for=100)
    assert result is not None and "no pod was created" in result.reason


def test_pods_of_picks_the_jobs_own_pods() -> None:
    other = {"metadata": {"name": "x", "labels": {"job-name": "prefect-other"}}}
    owned = {"metadata": {"name": "y", "ownerReferences": [{"kind": "Job", "name": "prefect-j"}]}}
    assert pods_of(JOB, [pod("Running"), other, owned]) == [pod("Running"), owned]


def test_is_pending() -> None:
    assert is_pending([])
    assert is_pending([pod("Pending")])
    assert not is_pending([pod("Pending"), pod("Running")])


def test_container_states_describe_terminations() -> None:
    lines = list(
        container_states(
            [pod("Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled", "signal": 9}})]
        )
    )
    assert lines == [
        "Container 'flow' in pod p-failed terminated: exit code 137, reason OOMKilled, signal 9"
    ]


def test_event_line() -> None:
    event = {
        "type": "Warning",
        "reason": "FailedScheduling",
        "message": "0/1 nodes available",
        "count": 3,
        "involvedObject": {"kind": "Pod", "name": "p"},
    }
    assert event_line(event) == "Event Warning FailedScheduling on pod p (x3): 0/1 nodes available"

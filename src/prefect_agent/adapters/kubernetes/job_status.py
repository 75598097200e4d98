"""Judging a Job from its status and its pods: still going, succeeded, or failed and why."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

# Waiting reasons that will not resolve by waiting: the image cannot be had.
IMAGE_PULL_ERRORS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
KUBERNETES_DEFAULT_BACKOFF_LIMIT = 6
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")


@attrs.frozen(kw_only=True)
class Verdict:
    """A Job's end: ``succeeded``, or not with a one-line ``reason`` and maybe an exit code.

    ``still_active`` is True when the agent decided the failure (image pull error, pending
    deadline) while Kubernetes still considers the Job running.
    """

    succeeded: bool
    reason: str
    exit_code: int | None = None
    still_active: bool = False


def _get(node: Any, *path: str) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _pick(node: Any, keys: Sequence[str]) -> dict[str, Any]:
    return {k: node[k] for k in keys if isinstance(node, Mapping) and node.get(k) is not None}


def judged_job(job: Mapping[str, Any], annotations: Sequence[str]) -> dict[str, Any]:
    """The fields of a Job that judging, reporting and cleanup read (a listed Job carries its
    whole pod template: thousands of them must not be kept whole). Only conditions that hold
    (status True) are read."""
    metadata = job.get("metadata") or {}
    status = job.get("status") or {}
    kept = {k: v for k, v in (metadata.get("annotations") or {}).items() if k in annotations}
    trimmed: dict[str, Any] = {"metadata": {"name": metadata.get("name"), "annotations": kept}}
    spec = _pick(job.get("spec") or {}, ("backoffLimit", "ttlSecondsAfterFinished"))
    if spec:
        trimmed["spec"] = spec
    holding = [
        _pick(c, ("type", "status", "reason", "message"))
        for c in status.get("conditions") or ()
        if c.get("status") == "True"
    ]
    trimmed["status"] = {**_pick(status, ("succeeded", "failed")), "conditions": holding}
    return trimmed


_STATE_FIELDS = {
    "running": (),
    "waiting": ("reason", "message"),
    "terminated": ("exitCode", "reason", "signal", "message"),
}


def _container(status: Mapping[str, Any]) -> dict[str, Any]:
    state = status.get("state") or {}
    kept: dict[str, Any] = {"name": status.get("name")}
    if state.get("waiting"):
        kept["image"] = status.get("image")  # named in a pull error
    kept["state"] = {
        key: _pick(state[key], fields) for key, fields in _STATE_FIELDS.items() if state.get(key)
    }
    return kept


def judged_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a Pod that judging and the run's log lines read: its phase, failure
    reason, the conditions that do not hold (why it waits) and each container's state."""
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    labels = metadata.get("labels") or {}
    kept_labels = {k: labels[k] for k in JOB_NAME_LABELS if k in labels}
    trimmed_metadata: dict[str, Any] = {"name": metadata.get("name"), "labels": kept_labels}
    if not kept_labels:
        trimmed_metadata["ownerReferences"] = [
            _pick(o, ("kind", "name")) for o in metadata.get("ownerReferences") or ()
        ]
    trimmed_status: dict[str, Any] = _pick(status, ("phase", "reason", "message"))
    waiting_for = [
        _pick(c, ("status", "message"))
        for c in status.get("conditions") or ()
        if c.get("status") == "False" and c.get("message")
    ]
    if waiting_for:
        trimmed_status["conditions"] = waiting_for
    for key in ("initContainerStatuses", "containerStatuses"):
        if status.get(key):
            trimmed_status[key] = [_container(c) for c in status[key]]
    return {"metadata": trimmed_metadata, "status": trimmed_status}


def job_of_pod(pod: Mapping[str, Any]) -> str | None:
    """The name of the Job that made ``pod`` (its job-name label or owner reference)."""
    labels = _get(pod, "metadata", "labels") or {}
    for key in JOB_NAME_LABELS:
        if labels.get(key):
            return str(labels[key])
    for owner in _get(pod, "metadata", "ownerReferences") or ():
        if owner.get("kind") == "Job" and owner.get("name"):
            return str(owner["name"])
    return None


def job_name_of(job: Mapping[str, Any]) -> str:
    return str(_get(job, "metadata", "name") or "")


def pods_of(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The pods the Job controller made for ``job`` (by the job-name label or owner)."""
    name = job_name_of(job)
    mine = []
    for pod in pods:
        labels = _get(pod, "metadata", "labels") or {}
        owners = _get(pod, "metadata", "ownerReferences") or []
        if any(labels.get(key) == name for key in JOB_NAME_LABELS) or any(
            o.get("kind") == "Job" and o.get("name") == name for o in owners
        ):
            mine.append(pod)
    return mine


def _statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(
        status.get("containerStatuses") or []
    )


def _phase(pod: Mapping[str, Any]) -> str:
    return str(_get(pod, "status", "phase") or "Pending")


def _pod_name(pod: Mapping[str, Any]) -> str:
    return str(_get(pod, "metadata", "name") or "?")


def is_pending(pods: Sequence[Mapping[str, Any]]) -> bool:
    """No pod of the Job got as far as running (none exist yet, or all are Pending)."""
    return all(_phase(pod) == "Pending" for pod in pods)


def _pull_error(pods: Sequence[Mapping[str, Any]]) -> str | None:
    for pod in pods:
        for status in _statuses(pod):
            waiting = _get(status, "state", "waiting") or {}
            if waiting.get("reason") in IMAGE_PULL_ERRORS:
                image = status.get("image") or "its image"
                message = waiting.get("message") or waiting["reason"]
                return (
                    f"container {status.get('name')!r} in pod {_pod_name(pod)} could not pull "
                    f"{image} ({waiting['reason']}): {message}"
                )
    return None


def _pod_failure(pod: Mapping[str, Any]) -> tuple[str, int | None]:
    """Why a Failed pod failed, and the exit code of its failed container if there is one."""
    status = pod.get("status") or {}
    if status.get("reason") == "Evicted":
        return f"pod {_pod_name(pod)} was evicted: {status.get('message') or 'no message'}", None
    for container in _statuses(pod):
        terminated = _get(container, "state", "terminated") or {}
        code = terminated.get("exitCode")
        if terminated and code != 0:
            name = container.get("name")
            if terminated.get("reason") == "OOMKilled":
                return (
                    f"container {name!r} in pod {_pod_name(pod)} was OOMKilled "
                    f"(out of memory, exit code {code})",
                    code,
                )
            why = f" ({terminated['reason']})" if terminated.get("reason") else ""
            return f"container {name!r} in pod {_pod_name(pod)} exited with code {code}{why}", code
    why = status.get("message") or status.get("reason") or "no reason given"
    return f"pod {_pod_name(pod)} failed: {why}", None


def judge(
    job: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    *,
    pending_for: float | None,
    pending_deadline: float,
) -> Verdict | None:
    """The Job's verdict, or None while it is still going.

    ``pods`` are the Job's own pods; ``pending_for`` is how long (seconds) they have all been
    Pending, None if one got further.
    """
    name = job_name_of(job)
    status = job.get("status") or {}
    true_conditions = {
        c.get("type"): c for c in status.get("conditions") or () if c.get("status") == "True"
    }
    if (
        "Complete" in true_conditions
        or (status.get("succeeded") or 0) >= 1
        or any(_phase(pod) == "Succeeded" for pod in pods)
    ):
        return Verdict(succeeded=True, reason=f"job {name} completed", exit_code=0)
    failed_pods = [pod for pod in pods if _phase(pod) == "Failed"]
    backoff_limit = _get(job, "spec", "backoffLimit")
    if backoff_limit is None:
        backoff_limit = KUBERNETES_DEFAULT_BACKOFF_LIMIT
    failures = max(len(failed_pods), status.get("failed") or 0)
    if "Failed" in true_conditions or failures > backoff_limit:
        if failed_pods:
            why, code = _pod_failure(failed_pods[-1])
        else:
            condition = true_conditions.get("Failed") or {}
            why = condition.get("message") or condition.get("reason") or "the job failed"
            code = None
        return Verdict(
            succeeded=False, reason=f"Kubernetes job {name} failed: {why}", exit_code=code
        )
    pull_error = _pull_error(pods)
    if pull_error:
        return Verdict(
            succeeded=False, reason=f"Kubernetes job {name} failed: {pull_error}", still_active=True
        )
    if pending_for is not None and pending_for >= pending_deadline:
        return Verdict(
            succeeded=False,
            reason=(
                f"Kubernetes job {name} failed: its pod was still Pending after "
                f"{pending_for:.0f} seconds (deadline {pending_deadline:g} s){_why_pending(pods)}"
            ),
            still_active=True,
        )
    return None


def _why_pending(pods: Sequence[Mapping[str, Any]]) -> str:
    for pod in pods:
        for condition in _get(pod, "status", "conditions") or ():
            if condition.get("status") == "False" and condition.get("message"):
                return f": {condition['message']}"
        for status in _statuses(pod):
            waiting = _get(status, "state", "waiting") or {}
            if waiting.get("reason"):
                return f": {waiting['reason']} {waiting.get('message') or ''}".rstrip()
    return "" if pods else ": no pod was created (check quotas and the service account)"


def container_states(pods: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """One line per container that terminated or is stuck waiting, for the run's logs."""
    for pod in pods:
        for status in _statuses(pod):
            state = status.get("state") or {}
            where = f"Container {status.get('name')!r} in pod {_pod_name(pod)}"
            terminated = state.get("terminated")
            waiting = state.get("waiting")
            if terminated:
                parts = [f"exit code {terminated.get('exitCode')}"]
                for key in ("reason", "signal", "message"):
                    if terminated.get(key):
                        parts.append(f"{key} {terminated[key]}")
                yield f"{where} terminated: {', '.join(parts)}"
            elif waiting and waiting.get("reason"):
                message = waiting.get("message") or ""
                yield f"{where} waiting: {waiting['reason']}: {message}".rstrip(": ")
        status = pod.get("status") or {}
        if status.get("reason") == "Evicted":
            yield f"Pod {_pod_name(pod)} evicted: {status.get('message') or ''}".rstrip(": ")


def event_line(event: Mapping[str, Any]) -> str:
    involved = event.get("involvedObject") or {}
    count = event.get("count") or 1
    times = f" (x{count})" if count > 1 else ""
    return (
        f"Event {event.get('type') or 'Normal'} {event.get('reason') or '?'} on "
        f"{(involved.get('kind') or 'object').lower()} {involved.get('name')}{times}: "
        f"{event.get('message') or ''}"
    ).rstrip(": ")


def event_key(event: Mapping[str, Any]) -> str:
    metadata = event.get("metadata") or {}
    return str(metadata.get("uid") or metadata.get("name") or event_line(event))

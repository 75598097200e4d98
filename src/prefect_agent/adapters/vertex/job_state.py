"""What a custom job's state says about its run."""

from __future__ import annotations

import re

from prefect_agent.domain.outcomes import InfrastructureOutcome

# How Vertex AI words a replica's exit in a failed job's error (the only place it says it).
_EXIT_STATUS = re.compile(r"non-zero status of (\d+)")

SUCCEEDED = "JOB_STATE_SUCCEEDED"
CANCELLING = "JOB_STATE_CANCELLING"
FAILED_STATES = frozenset({"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})
TERMINAL_STATES = FAILED_STATES | {SUCCEEDED, "JOB_STATE_PARTIALLY_SUCCEEDED"}


def job_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def judge(
    run_id: str, name: str, state: str, error_code: int = 0, error_message: str = ""
) -> InfrastructureOutcome | None:
    """The outcome of a job in a terminal state (None while it is queued or running)."""
    if state not in TERMINAL_STATES:
        return None
    if state == SUCCEEDED:
        return InfrastructureOutcome(run_id=run_id, succeeded=True)
    words = state.removeprefix("JOB_STATE_").lower().replace("_", " ")
    reason = f"Vertex AI custom job {job_id(name)} {words}"
    if error_message:
        reason += f": {error_message}"
    if error_code:
        reason += f" (code {error_code})"
    found = _EXIT_STATUS.search(error_message)
    return InfrastructureOutcome(
        run_id=run_id,
        succeeded=False,
        reason=reason,
        exit_code=int(found.group(1)) if found else None,
    )

"""What an ended container means for its run: success, a failed exit, OOMKilled, vanished."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from prefect_agent.domain.outcomes import InfrastructureOutcome

ENDED_STATES = frozenset({"exited", "dead"})
SIGKILL_EXIT = 137


def has_ended(inspect: Mapping[str, Any]) -> bool:
    return str(inspect.get("State", {}).get("Status", "")) in ENDED_STATES


def killed_without_oom_flag(inspect: Mapping[str, Any]) -> bool:
    """Exit 137 (SIGKILL) without OOMKilled: maybe an OOM kill the engine has not noted yet."""
    state = inspect.get("State") or {}
    return state.get("ExitCode") == SIGKILL_EXIT and not state.get("OOMKilled")


def _memory_limit(inspect: Mapping[str, Any]) -> str:
    limit = (inspect.get("HostConfig") or {}).get("Memory") or 0
    return f" (memory limit {limit / 2**20:g} MiB)" if limit else ""


def ended_outcome(
    run_id: str, name: str, inspect: Mapping[str, Any], last_lines: Sequence[str]
) -> InfrastructureOutcome:
    """The outcome of a container that has exited, from ``docker inspect`` and its last lines."""
    state = inspect.get("State") or {}
    code = int(state.get("ExitCode", -1))
    error = str(state.get("Error") or "").strip()
    if state.get("OOMKilled"):
        reason = (
            f"Container {name} was killed for running out of memory (OOMKilled)"
            f"{_memory_limit(inspect)}, exit code {code}"
        )
    elif code == 0:
        return InfrastructureOutcome(
            run_id=run_id,
            succeeded=True,
            exit_code=0,
            reason=f"Container {name} exited with code 0",
        )
    else:
        reason = f"Container {name} exited with code {code}"
    if error:
        reason += f": {error}"
    return InfrastructureOutcome(
        run_id=run_id,
        succeeded=False,
        exit_code=code,
        reason=reason,
        # The attrs plugin types the ``tuple`` converter's argument with an unbound TypeVar.
        details=tuple(last_lines),  # type: ignore[arg-type]
    )


def finished_at(inspect: Mapping[str, Any]) -> datetime | None:
    """When the container ended, from ``State.FinishedAt`` (nanoseconds cut to micro)."""
    text = str((inspect.get("State") or {}).get("FinishedAt") or "")
    match = _ENGINE_TIME.match(text)
    if match is None or text.startswith("0001-"):
        return None
    fraction = (match["fraction"] or "")[:6]
    zone = "+00:00" if match["zone"] in ("Z", None) else match["zone"]
    try:
        return datetime.fromisoformat(f"{match['base']}.{fraction or '0'}{zone}")
    except ValueError:
        return None


_ENGINE_TIME = re.compile(
    r"^(?P<base>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)?$"
)


def vanished_outcome(run_id: str, name: str) -> InfrastructureOutcome:
    return InfrastructureOutcome(
        run_id=run_id,
        succeeded=False,
        reason=f"Container {name} disappeared before the agent could read its exit status",
    )

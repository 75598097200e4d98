"""Settings of the agent's own operation: health semantics, logging format, backlog policy."""

from __future__ import annotations

import attrs

from prefect_agent.domain.validators import non_negative, positive

BACKLOG_POLICIES = ("launch", "skip")


def _check_backlog(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in BACKLOG_POLICIES:
        raise ValueError(
            f"{attribute.name} must be one of {', '.join(BACKLOG_POLICIES)}, not {value!r}"
        )


def _check_format(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("text", "json"):
        raise ValueError(f"{attribute.name} must be 'text' or 'json', not {value!r}")


@attrs.frozen(kw_only=True)
class OperationsSettings:
    liveness_factor: float = attrs.field(
        default=3.0,
        validator=positive,
        metadata={
            "help": "Health turns 503 when no poll completed within this many poll intervals."
        },
    )
    log_format: str = attrs.field(
        default="text",
        validator=_check_format,
        metadata={"help": "Agent log format: text or json."},
    )
    backlog_policy: str = attrs.field(
        default="launch",
        validator=_check_backlog,
        metadata={
            "help": "Runs later than the backlog threshold: launch them all, or skip (fail) them."
        },
    )
    backlog_threshold_seconds: float | None = attrs.field(
        default=None,
        validator=non_negative,
        metadata={"help": "How late a run may be before the backlog policy applies (none: never)."},
    )

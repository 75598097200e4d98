"""Settings of the agent's own operation: health semantics, logging format, backlog policy."""

from __future__ import annotations

import attrs

from prefect_agent.domain.validators import non_negative, positive

BACKLOG_POLICIES = ("launch", "skip")
LOG_FORMATS = ("text", "json")


def _check_backlog(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in BACKLOG_POLICIES:
        raise ValueError(
            f"{attribute.name} must be one of {', '.join(BACKLOG_POLICIES)}, not {value!r}"
        )


def _check_format(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in LOG_FORMATS:
        raise ValueError(f"{attribute.name} must be 'text' or 'json', not {value!r}")


@attrs.frozen(kw_only=True)
class OperationsSettings:
    liveness_factor: float = attrs.field(
        default=3.0,
        validator=positive,
        metadata={
            "help": "Health turns 503 when no poll completed within this many poll cycles "
            "(a cycle: the current poll interval plus the request timeout)."
        },
    )
    log_format: str = attrs.field(
        default="text",
        validator=_check_format,
        metadata={"help": "Agent log format: text or json (one JSON object per line)."},
    )
    error_repeat_window_seconds: float = attrs.field(
        default=60.0,
        validator=non_negative,
        metadata={
            "help": "Identical warnings and errors within this window are logged once, "
            "then counted (0 logs every one)."
        },
    )
    backlog_policy: str = attrs.field(
        default="launch",
        validator=_check_backlog,
        metadata={
            "help": "Runs later than the backlog threshold: launch them all, or skip (fail) them."
        },
    )
    poke_interval_seconds: float = attrs.field(
        default=1.0,
        validator=positive,
        metadata={
            "help": "/api/poke wakes the poll loop at most once per this many seconds "
            "(more pokes get 429)."
        },
    )
    backlog_threshold_seconds: float | None = attrs.field(
        default=None,
        validator=non_negative,
        metadata={"help": "How late a run may be before the backlog policy applies (none: never)."},
    )
    report_give_up_seconds: float = attrs.field(
        default=6 * 3600.0,
        validator=positive,
        metadata={
            "help": "How long an infrastructure failure the API cannot take is kept and "
            "retried (across restarts) before it is given up."
        },
    )

    def liveness_allowance(self, poll_interval: float, request_timeout: float) -> float:
        """Seconds without a completed poll after which the agent counts as wedged.

        One poll cycle is the wait before the poll plus the poll's own requests, which may
        take up to the request timeout; a live loop completes one cycle after another.
        """
        return self.liveness_factor * (poll_interval + request_timeout)

    def skips_backlog(self, lateness_seconds: float) -> bool:
        """Whether a run this late is skipped (failed) instead of launched."""
        return (
            self.backlog_policy == "skip"
            and self.backlog_threshold_seconds is not None
            and lateness_seconds > self.backlog_threshold_seconds
        )

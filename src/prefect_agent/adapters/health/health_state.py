"""The agent's health facts and the liveness and readiness verdicts drawn from them."""

from __future__ import annotations

import threading
from typing import Any

import attrs

from prefect_agent.domain.backoff_ladder import PollInterval
from prefect_agent.domain.operations_settings import OperationsSettings


@attrs.frozen
class Probe:
    """One probe's answer: ``ok`` decides the HTTP status, ``body`` is the JSON shown."""

    ok: bool
    body: dict[str, Any]


class HealthState:
    """Thread-safe record of what the agent reported, judged at probe time.

    The liveness allowance follows the interval the poll loop reports with each poll (the
    wait before its next one). Until the first poll completes, the time the state was created
    stands in for it and the loop's first interval for the wait, so a starting agent gets one
    full allowance to finish its first poll. Times are monotonic
    seconds (``Clock.monotonic``): a wall clock stepped back or forward changes no verdict.
    """

    def __init__(
        self, *, operations: OperationsSettings, request_timeout: float, started_at: float
    ) -> None:
        self._operations = operations
        self._request_timeout = request_timeout
        self._lock = threading.Lock()
        self._started_at = started_at
        self._interval = PollInterval().seconds
        self._last_completed: float | None = None
        self._last_poll_ok: bool | None = None
        self._last_error_kind = ""
        self._failing_since: float | None = None
        self._platform_ok: bool | None = None
        self._platform_reason = ""
        self.polls = 0

    def poll_completed(
        self, now: float, *, next_poll_in: float, error_kind: str | None = None
    ) -> None:
        """A poll ended at ``now``, successfully or with an error of ``error_kind``; the loop
        waits ``next_poll_in`` seconds before the next one."""
        with self._lock:
            self.polls += 1
            self._last_completed = now
            self._interval = next_poll_in
            if error_kind is None:
                self._last_poll_ok = True
                self._failing_since = None
                self._last_error_kind = ""
            else:
                if self._last_poll_ok is not False:
                    self._failing_since = now
                self._last_poll_ok = False
                self._last_error_kind = error_kind

    def platform_checked(self, ok: bool, reason: str) -> None:
        with self._lock:
            self._platform_ok = ok
            self._platform_reason = "" if ok else reason

    def liveness(self, now: float) -> Probe:
        with self._lock:
            reference = self._last_completed or self._started_at
            interval = self._interval
            polls = self.polls
        allowed = self._operations.liveness_allowance(interval, self._request_timeout)
        silent = max(0.0, now - reference)
        body: dict[str, Any] = {
            "polls": polls,
            "seconds_since_last_poll": round(silent, 3),
            "poll_interval_seconds": interval,
            "allowed_seconds": round(allowed, 3),
        }
        if silent > allowed:
            what = "no poll completed" if polls else "no poll completed since start"
            body = {
                "status": "unhealthy",
                "reason": f"{what} for {silent:.1f}s (allowed {allowed:.1f}s): "
                "the poll loop is stuck or its thread died",
                **body,
            }
            return Probe(False, body)
        return Probe(True, {"status": "ok", **body})

    def readiness(self, now: float) -> Probe:
        with self._lock:
            poll_ok = self._last_poll_ok
            kind = self._last_error_kind
            failing_since = self._failing_since
            platform_ok = self._platform_ok
            platform_reason = self._platform_reason
        reasons = []
        if poll_ok is None:
            api = "no API call completed yet"
            reasons.append(api)
        elif poll_ok:
            api = "ok"
        else:
            seconds = now - failing_since if failing_since is not None else 0.0
            api = f"failing ({kind}) for {max(0.0, seconds):.1f}s"
            reasons.append(f"the last API call failed ({kind})")
        if platform_ok is None:
            platform = "not checked yet"
        elif platform_ok:
            platform = "ok"
        else:
            platform = f"unavailable: {platform_reason}"
            reasons.append("the platform is unavailable")
        body: dict[str, Any] = {"api": api, "platform": platform}
        if reasons:
            return Probe(False, {"status": "not ready", "reason": "; ".join(reasons), **body})
        return Probe(True, {"status": "ready", **body})

"""Prefect 1 state names, their families, and the serialized states an agent writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PREFECT_VERSION = "1.4.1"
"""The ``__version__`` written into serialized states, matching what Prefect 1.4.1 writes."""

SCHEDULED = "Scheduled"
SUBMITTED = "Submitted"
RUNNING = "Running"
SUCCESS = "Success"
FAILED = "Failed"
CANCELLING = "Cancelling"
CANCELLED = "Cancelled"

CANCELLED_BY_USER: frozenset[str] = frozenset({CANCELLING, CANCELLED})
"""States a user's cancellation leaves a run in: ``Cancelling`` while its flow process runs
(Prefect 1.4.1's ``cancel_flow_run``, the UI, ``prefect run cancel``), ``Cancelled`` otherwise."""

SCHEDULED_FAMILY: frozenset[str] = frozenset(
    {"Scheduled", "Paused", "Queued", "Resume", "Retrying"}
)
"""States a run waits in for an agent: ``Scheduled`` and its subclasses, and ``Queued``."""

FINISHED_STATES: frozenset[str] = frozenset(
    {
        "Success",
        "Cached",
        "Mapped",
        "Skipped",
        "Failed",
        "TimedOut",
        "TriggerFailed",
        "ValidationFailed",
        "Cancelled",
        "Looped",
    }
)
"""Terminal states: once a run is in one of these, its infrastructure no longer matters."""


def is_scheduled(state_name: str) -> bool:
    return state_name in SCHEDULED_FAMILY


def is_finished(state_name: str) -> bool:
    return state_name in FINISHED_STATES


def _no_result() -> dict[str, Any]:
    return {"type": "NoResultType", "__version__": PREFECT_VERSION}


def serialized_state(type_name: str, message: str, **extra: Any) -> dict[str, Any]:
    """A state as Prefect 1.4.1 serializes it (``context``, ``cached_inputs``, ``_result``)."""
    state: dict[str, Any] = {
        "type": type_name,
        "message": message,
        "context": {},
        "cached_inputs": {},
        "_result": _no_result(),
        "__version__": PREFECT_VERSION,
    }
    state.update(extra)
    return state


def submitted_state(
    previous: Mapping[str, Any], message: str = "Submitted for execution"
) -> dict[str, Any]:
    """The Submitted state an agent claims a run with; it embeds the state it replaces."""
    return serialized_state(SUBMITTED, message, state=dict(previous))


def failed_state(message: str) -> dict[str, Any]:
    return serialized_state(FAILED, message)


def cancelled_state(message: str) -> dict[str, Any]:
    return serialized_state(CANCELLED, message)

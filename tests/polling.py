"""Waiting for a condition in tests: poll it until a deadline, never a fixed sleep.

This is the suite's one polling loop; every other waiting helper calls it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
DEADLINE = 30.0
STEP = 0.005
"""Seconds between probes; probes that cost a request to a server pass a longer one."""


def poll(probe: Callable[[], T | None], deadline: float, step: float = STEP) -> T | None:
    """Call ``probe`` until it returns something truthy (returned) or ``deadline`` seconds
    have passed (None). It is called at least once, and once more at the deadline."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value:
            return value
        left = end - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(step, left))  # the polling step, not a wait for something to happen


def eventually(
    probe: Callable[[], T | None],
    what: str,
    deadline: float = DEADLINE,
    *,
    step: float = STEP,
    context: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy (and return that), failing after
    ``deadline`` seconds with ``what`` in the message, followed by ``context()`` (such as
    the output of a process the test waits on) when given."""
    value = poll(probe, deadline, step)
    if value:
        return value
    detail = f"\n{context()}" if context is not None else ""
    raise AssertionError(f"timed out waiting for {what}{detail}")

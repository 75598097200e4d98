"""Waiting for a condition in tests: poll it until a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
DEADLINE = 30.0


def eventually(probe: Callable[[], T | None], what: str, deadline: float = DEADLINE) -> T:
    """Poll ``probe`` until it returns something truthy (and return that), failing after
    ``deadline`` seconds with ``what`` in the message."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = probe()
        if value:
            return value
        time.sleep(0.005)  # the polling step, not a wait for something to happen
    raise AssertionError(f"timed out waiting for {what}")

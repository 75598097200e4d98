"""The Clock contract, run against the system clock and the shipped fake."""

from __future__ import annotations

import threading
from datetime import timezone

import pytest

from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.ports import Clock
from prefect_agent.testing import FakeClock


@pytest.fixture(params=["system", "fake"])
def clock(request: pytest.FixtureRequest) -> Clock:
    return SystemClock() if request.param == "system" else FakeClock(auto_advance=True)


def test_now_is_aware_utc_and_monotonic_never_goes_back(clock: Clock) -> None:
    assert isinstance(clock, Clock)
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == timezone.utc.utcoffset(None)
    readings = [clock.monotonic() for _ in range(100)]
    assert readings == sorted(readings)


def test_wait_returns_at_once_for_a_set_event_and_times_out_otherwise(clock: Clock) -> None:
    event = threading.Event()
    before = clock.monotonic()
    assert clock.wait(event, 0.05) is False
    assert clock.monotonic() - before >= 0.05
    event.set()
    assert clock.wait(event, 100) is True

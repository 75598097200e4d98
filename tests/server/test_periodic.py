"""PeriodicService: the loop of Lazarus, the scheduler and the zombie killer."""

from __future__ import annotations

from typing import Any

import pytest

from prefect_agent.server.periodic import PeriodicService
from tests.polling import eventually


class Flaky(PeriodicService):
    thread_name = "flaky"

    def __init__(self) -> None:
        super().__init__(interval=0.01)
        self.passes = 0
        self.reported: list[Any] = []

    def sweep(self) -> int:
        self.passes += 1
        if self.passes == 1:
            raise RuntimeError("the store is locked")
        return self.passes

    def report(self, result: Any) -> None:
        self.reported.append(result)


def test_a_failing_pass_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    service = Flaky().start()
    try:
        eventually(lambda: len(service.reported) >= 2, "two passes reported after a failure")
    finally:
        service.stop()
    assert service.reported[:2] == [2, 3]  # the failed first pass reported nothing
    assert "flaky pass failed" in caplog.text and "the store is locked" in caplog.text
    passes = service.passes
    assert service._thread is not None and not service._thread.is_alive()
    assert service.passes == passes  # stopped for good

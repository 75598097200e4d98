"""Fixtures of the reliability suite: the embedded API, a fault proxy, captured agent logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from prefect_agent.server.testing import RunningServer
from tests.reliability.fault_proxy import FaultProxy
from tests.reliability.harness import SECRET, CapturedLogs


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def api_options() -> dict[str, Any]:
    # The agents of this suite send SECRET as their key: make it the API's.
    return {"api_key": SECRET}


@pytest.fixture
def proxy(api: RunningServer) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(api.url)
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def agent_logs() -> Iterator[CapturedLogs]:
    """The agent's log lines; after each test, none of them may contain the API key."""
    handler = CapturedLogs()
    root = logging.getLogger("prefect_agent")
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)
    assert SECRET not in handler.text(), "the API key reached a log line"

"""Fixtures for tests that need a Prefect API: the embedded server in a thread.

Other suites may import ``running_server`` from ``prefect_agent.server.testing`` directly or
use the ``api`` fixture below (a fresh in-memory server per test, on a free port).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from prefect_agent.server.testing import RunningServer, running_server


@pytest.fixture
def api() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


def post(api: RunningServer, body: Any, **kwargs: Any) -> requests.Response:
    """POST a JSON body (or raw bytes with ``data=``, sent as JSON) to the API, with its key."""
    headers = {"Content-Type": "application/json", **api.auth_headers, **kwargs.pop("headers", {})}
    if "data" in kwargs:
        return requests.post(api.url, timeout=10, headers=headers, **kwargs)
    return requests.post(api.url, json=body, timeout=10, headers=headers, **kwargs)


def errors_of(response: requests.Response) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = response.json().get("errors") or []
    return errors


def codes_of(response: requests.Response) -> set[str]:
    return {e.get("extensions", {}).get("code") for e in errors_of(response)}

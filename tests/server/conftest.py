"""What the embedded API's tests share (the ``api`` fixture itself is the root
conftest's): raw requests to it, and Prefect 1.4.1's client of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from prefect_agent.server.testing import RunningServer
from tests.prefect1.venv import Prefect1
from tests.server.prefect1_client import Prefect1Client


@pytest.fixture
def client(prefect1: Prefect1, api: RunningServer, tmp_path: Path) -> Prefect1Client:
    """Prefect 1.4.1's client and CLI, configured for the test's API."""
    return Prefect1Client(prefect1, api, tmp_path)


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

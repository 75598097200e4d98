"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.prefect1.venv import Prefect1, find

if TYPE_CHECKING:
    from prefect_agent.server.testing import RunningServer
    from tests.kubernetes.emulator import Emulator


@pytest.fixture(scope="session")
def prefect1() -> Prefect1:
    """Prefect 1.4.1 in its own venv: skips outside CI when absent, fails in CI."""
    return find()


@pytest.fixture
def api_options() -> dict[str, Any]:
    """Arguments of ``running_server`` for the ``api`` fixture; a suite that needs another
    API (a given key, Lazarus) overrides this fixture, not ``api``."""
    return {}


@pytest.fixture
def api(api_options: dict[str, Any]) -> Iterator[RunningServer]:
    """The embedded API on a free port with a fresh SQLite database, for one test (skipped
    without the ``server`` extra, which suites of the agent alone need not install)."""
    testing = pytest.importorskip("prefect_agent.server.testing")
    with testing.running_server(**api_options) as server:
        yield server


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A Kubernetes API server (kmock) for one test."""
    from tests.kubernetes.emulator import running_emulator

    with running_emulator() as server:
        yield server

"""Fixtures of the end-to-end suites with Prefect 1.4.1 as the client (test_prefect1_*)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_agent.server.testing import running_server
from tests.e2e.prefect1_harness import Agent, Prefect1Client, World, flow_run_command
from tests.prefect1.venv import Prefect1

LOCAL_LABEL = "p1-local"


@pytest.fixture(scope="module")
def local_world(prefect1: Prefect1, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """An embedded API and our local agent running Prefect 1.4.1's ``prefect execute
    flow-run`` with the Python of the Prefect 1.4.1 venv."""
    workdir: Path = tmp_path_factory.mktemp("prefect1-local")
    with running_server() as api:
        client = Prefect1Client(prefect1, api, workdir / "client-home")
        agent = Agent(
            "local", api, [LOCAL_LABEL], workdir,
            "--no-hostname-label",
            "--flow-run-command", flow_run_command(prefect1),
            "--state-dir", str(workdir / "agent-state"),
        )  # fmt: skip
        try:
            yield World(api, client, agent, workdir)
        finally:
            agent.stop()


# The Docker suites' engine fixture (skips, or fails when the engine is required, as there).
from tests.docker.conftest import docker_engine  # noqa: E402, F401

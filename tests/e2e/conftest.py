"""Fixtures of the end-to-end suites with Prefect 1.4.1 as the client (test_prefect1_*)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_agent.server.testing import running_server

# The Docker suites' engine fixture (skips, or fails when the engine is required, as there).
from tests.docker.conftest import docker_engine  # noqa: F401
from tests.e2e.prefect1_harness import Prefect1Client, World, flow_run_command, start_agent
from tests.prefect1.venv import ROOT, Prefect1

LOCAL_LABEL = "p1-local"


@pytest.fixture(scope="module")
def local_world(prefect1: Prefect1, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """An embedded API and our local agent running Prefect 1.4.1's ``prefect execute
    flow-run`` with the Python of the Prefect 1.4.1 venv."""
    workdir: Path = tmp_path_factory.mktemp("prefect1-local")
    with running_server() as api:
        client = Prefect1Client(prefect1, api, workdir / "client-home")
        agent = start_agent(
            "local", api, [LOCAL_LABEL], workdir,
            "--no-hostname-label",
            "--flow-run-command", flow_run_command(prefect1),
            "--state-dir", str(workdir / "agent-state"),
        )  # fmt: skip
        try:
            yield World(api, client, agent, workdir)
        finally:
            agent.stop()


@pytest.fixture(scope="session")
def prefect1_image(prefect1: Prefect1, request: pytest.FixtureRequest) -> str:
    """The flow image with Prefect 1.4.1 (built once per venv content; seconds when cached)."""
    request.getfixturevalue("docker_engine")  # skips (or fails in CI) without an engine
    done = subprocess.run(
        [str(ROOT / "scripts" / "prefect1-image.sh")],
        env={**os.environ, "PREFECT1_VENV": str(prefect1.venv)},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"scripts/prefect1-image.sh failed:\n{done.stderr[-4000:]}", pytrace=False)
    return done.stdout.strip().splitlines()[-1]

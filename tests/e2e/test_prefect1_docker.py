"""Prefect 1.4.1 flows run by our Docker agent in a flow image that has Prefect 1.4.1.

The image is built locally from this machine's Python and the Prefect 1.4.1 venv
(scripts/prefect1-image.sh, cached by content). Containers use the host network to reach the
embedded API on 127.0.0.1; the flow scripts (Local storage, stored as scripts) are mounted
read-only at the same paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prefect_agent.server.testing import running_server
from tests.docker.conftest import remove_agent_containers
from tests.e2e.prefect1_harness import (
    EXAMPLES,
    FLOWS,
    MAPPED_FLOW,
    RETRY_FLOW,
    Prefect1Client,
    World,
    start_agent,
)
from tests.prefect1.venv import Prefect1

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.slow]

LABEL = "p1-docker"


@pytest.fixture
def docker_world(
    prefect1: Prefect1, prefect1_image: str, docker_engine: Any, tmp_path: Path
) -> Iterator[World]:
    name = f"p1-docker-{uuid.uuid4().hex[:8]}"
    with running_server() as api:
        client = Prefect1Client(prefect1, api, tmp_path / "client-home")
        agent = start_agent(
            "docker", api, [LABEL], tmp_path,
            "--no-pull", "--network", "host",
            "--volume", f"{FLOWS}:{FLOWS}:ro", "--volume", f"{EXAMPLES}:{EXAMPLES}:ro",
            name=name,
        )  # fmt: skip
        try:
            yield World(api, client, agent, tmp_path)
        finally:
            agent.stop()
            remove_agent_containers(docker_engine, name)


def test_prefect1_flows_in_a_flow_image_end_as_expected(
    docker_world: World, prefect1_image: str
) -> None:
    world = docker_world
    docker_run = {"type": "DockerRun", "image": prefect1_image}
    register = world.client.register
    _, (mapped,) = register(MAPPED_FLOW, labels=[LABEL], run_config=docker_run,
                            runs=[{"parameters": {"count": 3}}])  # fmt: skip
    _, (retried,) = register(RETRY_FLOW, labels=[LABEL], run_config=docker_run, runs=[{}])
    _, (failing,) = register(FLOWS / "failing.py", labels=[LABEL], run_config=docker_run,
                             runs=[{}])  # fmt: skip
    world.wait([mapped, retried, failing], deadline=180)
    world.expect(mapped, "Success")
    world.logs_with(mapped, "Sum of 3 squares: 14")
    world.expect(retried, "Success")
    world.logs_with(retried, "Attempt 1 fails on purpose", "Attempt 2 succeeded")
    world.expect(failing, "Failed")
    world.logs_with(failing, "boom: the e2e task failed on purpose")

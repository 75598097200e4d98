"""The real Docker engine for tests marked ``docker``: skip clearly when there is none.

With ``PREFECT_AGENT_DOCKER_REQUIRED=1`` (set by scripts/test.sh in CI) a missing engine or
missing test image is a failure, never a skip. Start one with ``scripts/docker-engine.sh up``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

BUSYBOX = "local/busybox:latest"
HOSTPYTHON = "local/hostpython:latest"
"""An empty rootfs that runs the host's /usr/bin/python3 when given the volume /usr:/usr:ro."""
HOST_USR = "/usr:/usr:ro"
TEST_IMAGES = (BUSYBOX, HOSTPYTHON)
HINT = "start one with scripts/docker-engine.sh up"


def engine_required() -> bool:
    return os.environ.get("PREFECT_AGENT_DOCKER_REQUIRED") == "1"


def _connect() -> tuple[Any, str | None]:
    try:
        import docker
    except ImportError:
        return None, "the docker SDK is not installed (pip install 'prefect-agent[docker]')"
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(version="auto", timeout=20)
        client.ping()
    except Exception as exc:
        return None, f"no Docker engine answers at {where} ({type(exc).__name__}); {HINT}"
    missing = []
    for image in TEST_IMAGES:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    if missing:
        client.close()
        return None, f"the test image(s) {', '.join(missing)} are missing; {HINT}"
    return client, None


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A ``docker.DockerClient`` on a live engine that has the local test images."""
    client, problem = _connect()
    if problem is not None:
        if engine_required():
            pytest.fail(f"PREFECT_AGENT_DOCKER_REQUIRED=1 but {problem}", pytrace=False)
        pytest.skip(problem)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _engine_for_docker_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("docker") is not None:
        request.getfixturevalue("docker_engine")


def remove_agent_containers(client: Any, agent: str) -> None:
    """Remove every container a test's agent left behind (the tests use unique agent names)."""
    for container in client.containers.list(
        all=True, filters={"label": f"io.prefect.agent={agent}"}
    ):
        container.remove(force=True)

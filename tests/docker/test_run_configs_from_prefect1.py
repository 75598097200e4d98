"""End to end on the real Docker engine: every default and fully populated run config a Docker
agent runs, as Prefect 1.4.1 registers it, is read by the GraphQL adapter, launched by the
Docker platform, and runs with the environment its run config asks for.

Nothing can be pulled here: the default image (``prefecthq/prefect:<core version>``) is the
local busybox under a tag of this test's own, and its pull (Prefect 1.4.1's rule: a name with a
``/`` is pulled before every run) fails, so the engine's copy runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from prefect_agent.adapters.docker.platform import DockerPlatform
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.outcomes import InfrastructureOutcome
from tests.docker.conftest import BUSYBOX, remove_agent_containers
from tests.polling import eventually
from tests.prefect1 import cases
from tests.prefect1.ours import read_row
from tests.prefect1.venv import Prefect1

pytestmark = pytest.mark.docker

CORE_VERSION = f"1.4.1-e2e{uuid.uuid4().hex[:8]}"
DEFAULT_IMAGE = f"prefecthq/prefect:{CORE_VERSION}"


@pytest.fixture(scope="module")
def default_image(docker_engine: Any) -> Iterator[str]:
    docker_engine.images.get(BUSYBOX).tag(DEFAULT_IMAGE)
    yield DEFAULT_IMAGE
    docker_engine.images.remove(DEFAULT_IMAGE, noprune=True)


@pytest.fixture(scope="module")
def rows(prefect1: Prefect1) -> list[tuple[str, dict[str, Any]]]:
    return cases.e2e_rows(prefect1, "docker", core_version=CORE_VERSION)


@pytest.fixture
def platform(docker_engine: Any) -> Iterator[DockerPlatform]:
    name = f"prefect1-e2e-{uuid.uuid4().hex[:8]}"
    platform = DockerPlatform(DockerSettings(), agent_name=name)
    yield platform
    platform.close()
    remove_agent_containers(docker_engine, name)


def test_every_default_and_full_run_config_runs_on_the_docker_agent(
    rows: list[tuple[str, dict[str, Any]]], platform: DockerPlatform, default_image: str
) -> None:
    names = {}
    for name, row in rows:
        run = read_row(row)
        config = AgentConfig(
            platform=DockerSettings(),
            env_vars={"GONE": "set by the agent"},
            flow_run_command=("sh", "-c", cases.env_check(row)),
        )
        spec = build_launch_spec(run, config, tenant_id=None)
        assert spec.image == (cases.IMAGE if "full" in name and "Docker" in name else default_image)
        platform.launch(run, spec)
        names[run.id] = name
    seen: dict[str, InfrastructureOutcome] = {}

    def all_ended() -> bool:
        seen.update((o.run_id, o) for o in platform.outcomes())
        return set(seen) == set(names)

    eventually(all_ended, "every run's container to exit", 60)
    failed = {names[r]: attrs.asdict(o) for r, o in seen.items() if not o.succeeded}
    assert not failed, failed
    assert len(names) == 5

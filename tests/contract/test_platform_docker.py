"""The Platform contract on a real Docker engine (busybox containers)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.run_config import DockerRun
from prefect_agent.ports import Platform
from tests.contract.platform_contract import PlatformContract
from tests.docker.conftest import BUSYBOX, docker_engine, remove_agent_containers

pytestmark = pytest.mark.docker

__all__ = ["docker_engine"]  # the engine fixture (skip or fail when there is no engine)


class TestDockerPlatform(PlatformContract):
    @pytest.fixture
    def platform(self, docker_engine: Any, tmp_path: Path) -> Iterator[Platform]:
        from prefect_agent.adapters.docker.platform import DockerPlatform

        self.client = docker_engine
        self.agent = f"contract-{uuid.uuid4().hex[:10]}"
        self.releases = tmp_path / "release"
        self.releases.mkdir()
        self.began = time.time()
        platform = DockerPlatform.from_config(self.config())
        yield platform
        platform.close()
        remove_agent_containers(docker_engine, self.agent)

    def config(self) -> AgentConfig:
        settings = DockerSettings(volumes=[f"{self.releases}:/release:ro"])
        return AgentConfig(platform=settings, name=self.agent)

    def new_run(self) -> FlowRun:
        return attrs.evolve(super().new_run(), run_config=DockerRun(image=BUSYBOX))

    def exit_command(self, code: int) -> Sequence[str]:
        return ("sh", "-c", f"exit {code}")

    def blocking_command(self, run_id: str) -> Sequence[str]:
        # PID 1 ignores SIGTERM unless it traps it; a flow's process would handle it too.
        return (
            "sh",
            "-c",
            f"trap 'exit 143' TERM; until [ -e /release/{run_id} ]; do sleep 0.05; done",
        )

    def release(self, platform: Platform, run_id: str) -> None:
        (self.releases / run_id).touch()

    def restarted(self, platform: Platform) -> Platform:
        from prefect_agent.adapters.docker.platform import DockerPlatform

        return DockerPlatform.from_config(self.config())

    def starts(self, platform: Platform, run_id: str) -> int:
        """Container starts the engine recorded for this run since the test began."""
        # The engine filters by whole seconds: widen the window by one on each side.
        events = self.client.events(
            since=int(self.began) - 1,
            until=int(time.time()) + 1,
            filters={"event": "start", "label": f"io.prefect.flow-run-id={run_id}"},
            decode=True,
        )
        return sum(1 for _ in events)

    def leftovers(self, platform: Platform, run_id: str) -> int:
        return len(
            self.client.containers.list(
                all=True, filters={"label": f"io.prefect.flow-run-id={run_id}"}
            )
        )

"""The Platform contract against ECSPlatform: real boto3 over HTTP to moto in server mode.

moto runs no containers: the test plays the ECS scheduler (``MotoEcs.finish``), giving the
flow container the exit code the contract asks for and stopping the task.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.ecs_settings import ECSSettings
from prefect_agent.ports import Platform
from tests.contract.platform_contract import PlatformContract
from tests.ecs.moto_ecs import MotoEcs, running_moto


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoEcs]:
    with running_moto() as moto:
        yield moto


class TestECSPlatform(PlatformContract):
    @pytest.fixture
    def platform(self, moto: MotoEcs, tmp_path: Path) -> Iterator[Platform]:
        from prefect_agent.adapters.ecs.platform import ECSPlatform

        moto.reset()
        self.moto = moto
        self.task_definition = moto.task_definition_file(tmp_path)
        platform = ECSPlatform(self.config(), moto.session, endpoint_url=moto.url)
        yield platform
        platform.close()

    def config(self) -> AgentConfig:
        return AgentConfig(
            name="contract-agent",
            platform=ECSSettings(
                task_definition_path=str(self.task_definition), task_sync_interval_seconds=0.05
            ),
        )

    # moto runs no container: these commands only end up in the task's overrides, and
    # ``finish`` (the test as the ECS scheduler) gives the container its exit code.
    def exit_command(self, code: int) -> Sequence[str]:
        return ("sh", "-c", f"exit {code}")

    def blocking_command(self, run_id: str) -> Sequence[str]:
        return ("sh", "-c", "sleep 3600")

    def release(self, platform: Platform, run_id: str) -> None:
        """Nothing to release: ``finish``, which the contract calls next, ends the task."""

    def finish(self, platform: Platform, run_id: str, code: int) -> None:
        self.moto.finish(self.moto.task_of(run_id)["taskArn"], code)

    def restarted(self, platform: Platform) -> Platform:
        from prefect_agent.adapters.ecs.platform import ECSPlatform

        return ECSPlatform(self.config(), self.moto.session, endpoint_url=self.moto.url)

    def starts(self, platform: Platform, run_id: str) -> int:
        return len(self.moto.tasks_of(run_id))

    def leftovers(self, platform: Platform, run_id: str) -> int:
        # A STOPPED task cannot be deleted (ECS forgets it after about an hour): what is left
        # of a run is a task that has not stopped.
        return sum(t["lastStatus"] != "STOPPED" for t in self.moto.tasks_of(run_id))

"""The contract suites run against the shipped in-memory fakes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.ports import Platform, RunSource
from prefect_agent.testing import FakePlatform, InMemoryRunSource
from tests.contract.platform_contract import PlatformContract
from tests.contract.run_source_contract import RunSourceContract


class TestInMemoryRunSource(RunSourceContract):
    @pytest.fixture
    def source(self) -> InMemoryRunSource:
        return InMemoryRunSource(clock=SystemClock())

    def seed(
        self,
        source: RunSource,
        *,
        labels: list[str],
        start_time: datetime | None = None,
        run_config: Any = None,
    ) -> str:
        assert isinstance(source, InMemoryRunSource)
        return source.add_run(labels=labels, start_time=start_time, run_config=run_config)

    def move(self, source: RunSource, run_id: str, state: str) -> None:
        assert isinstance(source, InMemoryRunSource)
        source.set_state(run_id, state)

    def restarted(self, source: RunSource, claimant: str) -> RunSource:
        assert isinstance(source, InMemoryRunSource)
        source.claimant = claimant  # one store: a "restart" is the same API under a claimant
        self.register(source, ["a"])
        return source

    def logs_of(self, source: RunSource, run_id: str) -> list[tuple[str, str]]:
        assert isinstance(source, InMemoryRunSource)
        return [(log.level, log.message) for log in source.logs(run_id)]


class TestFakePlatform(PlatformContract):
    @pytest.fixture
    def platform(self) -> FakePlatform:
        return FakePlatform()

    def config(self) -> AgentConfig:
        return AgentConfig()

    def exit_command(self, code: int) -> Sequence[str]:
        return ("exit", str(code))

    def blocking_command(self, run_id: str) -> Sequence[str]:
        return ("block",)

    def release(self, platform: Platform, run_id: str) -> None:
        pass

    def finish(self, platform: Platform, run_id: str, code: int) -> None:
        assert isinstance(platform, FakePlatform)
        platform.report_exit(run_id, code)

    def restarted(self, platform: Platform) -> Platform:
        assert isinstance(platform, FakePlatform)
        return FakePlatform(
            previously_launched=platform.running, kept_outcomes=platform.unacknowledged()
        )

    def starts(self, platform: Platform, run_id: str) -> int:
        assert isinstance(platform, FakePlatform)
        return platform.starts[run_id] or (1 if run_id in platform.running else 0)

    def leftovers(self, platform: Platform, run_id: str) -> int:
        assert isinstance(platform, FakePlatform)
        return int(run_id in platform.running)

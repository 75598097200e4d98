"""The poll tells the source which runs the agent is deploying already."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.outcomes import ReadyRuns
from prefect_agent.services.agent import AgentService
from prefect_agent.testing import FakeClock, FakePlatform, InlineExecutor, InMemoryRunSource


class RecordingSource(InMemoryRunSource):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.known: list[frozenset[str]] = []

    def ready_runs(
        self, labels: Sequence[str], before: datetime, known: Collection[str] = frozenset()
    ) -> ReadyRuns:
        self.known.append(frozenset(known))
        return super().ready_runs(labels, before, known)


def test_runs_in_flight_are_passed_as_known() -> None:
    clock = FakeClock()
    source = RecordingSource(clock=clock)
    held = source.add_run(labels=["dev"])
    fresh = source.add_run(labels=["dev"])
    platform = FakePlatform()
    agent = AgentService(
        config=AgentConfig(labels=["dev"]),
        source=source,
        platform=platform,
        clock=clock,
        executor=InlineExecutor(),
    )
    agent.register()
    agent.in_flight.reserve([held])  # as if a deployment of it were under way
    agent.step()
    assert source.known[-1] == {held}
    assert platform.launched_ids() == [fresh]

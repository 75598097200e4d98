"""The poll tells the source which runs the agent is deploying already."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from prefect_agent.domain.outcomes import ReadyRuns
from prefect_agent.testing import InMemoryRunSource
from tests.unit.services.conftest import World


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
    world = World(source_type=RecordingSource)
    held = world.source.add_run(labels=["dev"])
    fresh = world.source.add_run(labels=["dev"])
    world.agent.in_flight.reserve([held])  # as if a deployment of it were under way
    world.step()
    assert world.source.known[-1] == {held}
    assert world.platform.launched_ids() == [fresh]

"""The composition root's operations hooks: the health server, and signals."""

from __future__ import annotations

import signal
from collections.abc import Collection, Sequence
from datetime import datetime

from prefect_agent.adapters.health.server import HttpHealthReporter
from prefect_agent.bootstrap import AdapterOverrides, build_agent
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.outcomes import ReadyRuns
from prefect_agent.services.null_health import NullHealthReporter
from prefect_agent.signals import run_until_signalled, stopper
from prefect_agent.testing import FakeClock, FakePlatform, InMemoryRunSource
from tests.unit.adapters.health.http_get import request


class _ProbingSource(InMemoryRunSource):
    """Calls the agent's own health endpoint from inside a poll, while the agent runs."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.url = ""
        self.seen: list[int] = []

    def ready_runs(
        self, labels: Sequence[str], before: datetime, known: Collection[str] = frozenset()
    ) -> ReadyRuns:
        self.seen.append(request(self.url + "/api/health").status)
        return super().ready_runs(labels, before)


def test_agent_address_brings_up_health_for_the_run_and_down_after() -> None:
    clock = FakeClock()
    source = _ProbingSource(clock=clock)
    config = AgentConfig(agent_address="http://127.0.0.1:0", max_polls=1)
    agent = build_agent(
        config, AdapterOverrides(source=source, platform=FakePlatform(), clock=clock)
    )
    health = agent.health
    assert isinstance(health, HttpHealthReporter)
    health.start()  # bind now to learn the port; run_until_signalled's start is then a no-op
    source.url = health.url
    run_until_signalled(agent)
    assert source.seen == [200]
    assert health._server is None  # stopped with the agent


def test_poke_reaches_the_poll_loop() -> None:
    clock = FakeClock()
    config = AgentConfig(agent_address="http://127.0.0.1:0")
    agent = build_agent(
        config,
        AdapterOverrides(
            source=InMemoryRunSource(clock=clock), platform=FakePlatform(), clock=clock
        ),
    )
    assert isinstance(agent.health, HttpHealthReporter)
    agent.health.poke()
    assert agent.poll_loop._wake.is_set()


def test_no_address_no_server() -> None:
    clock = FakeClock()
    agent = build_agent(
        AgentConfig(),
        AdapterOverrides(
            source=InMemoryRunSource(clock=clock), platform=FakePlatform(), clock=clock
        ),
    )
    assert isinstance(agent.health, NullHealthReporter)


def test_first_signal_drains_second_exits_at_once() -> None:
    clock = FakeClock()
    agent = build_agent(
        AgentConfig(),
        AdapterOverrides(
            source=InMemoryRunSource(clock=clock), platform=FakePlatform(), clock=clock
        ),
    )
    exits = []
    handle = stopper(agent, exit_now=exits.append)
    handle(signal.SIGTERM, None)
    assert agent.stopping and exits == []
    handle(signal.SIGTERM, None)
    assert exits == [128 + signal.SIGTERM]

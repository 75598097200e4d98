"""The agent's services driving GraphQLRunSource against the embedded API (fake platform)."""

from __future__ import annotations

import logging
import threading

import pytest

from prefect_agent.adapters.graphql.run_source import GraphQLRunSource
from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.server.testing import RunningServer, running_server
from prefect_agent.services.agent import AgentService
from prefect_agent.testing import FakeClock, FakePlatform, InlineExecutor
from tests.network import free_port


def agent_for(api: RunningServer, platform: FakePlatform, labels: list[str]) -> AgentService:
    config = AgentConfig(api=api.url, api_key=api.api_key, labels=labels, name="itest")
    return AgentService(
        config=config,
        source=GraphQLRunSource.from_config(config),
        platform=platform,
        clock=SystemClock(),
        executor=InlineExecutor(),
    )


def test_runs_are_claimed_launched_logged_and_failed_with_a_reason(api: RunningServer) -> None:
    good = api.create_run(labels=["dev"], run_config={"type": "LocalRun", "env": {"A": "1"}})
    ecs = api.create_run(labels=["dev"], run_config={"type": "ECSRun"})
    other = api.create_run(labels=["prod"])
    platform = FakePlatform()
    agent = agent_for(api, platform, ["dev"])
    agent.register()
    # The ECSRun is claimed too (as Prefect 1.4.1's local agent did), then failed as
    # incompatible with a local agent.
    assert agent.step() == 2
    assert platform.launched_ids() == [good]
    assert api.history(good) == ["Scheduled", "Submitted"]
    assert any("Submitted for execution" in log["message"] for log in api.logs(good))
    assert api.state_of(ecs) == "Failed"
    assert "ECSRun" in api.run(ecs)["serialized_state"]["message"]
    assert api.state_of(other) == "Scheduled"
    platform.report_exit(good, 3)
    agent.step()
    assert api.state_of(good) == "Failed"
    assert any(log["level"] == "ERROR" for log in api.logs(good))


def test_start_up_waits_for_an_unreachable_api(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = AgentConfig(api=url, api_key="late-api-key", labels=["x"])
    clock = FakeClock()
    agent = AgentService(
        config=config,
        source=GraphQLRunSource.from_config(config),
        platform=FakePlatform(),
        clock=clock,
        executor=InlineExecutor(),
    )
    registered: list[str] = []
    thread = threading.Thread(target=lambda: registered.append(agent.register()), daemon=True)
    with caplog.at_level(logging.WARNING):
        thread.start()
        clock.wait_for_waiters(1)  # the first attempt failed; the agent waits to retry
        with running_server(port=port, api_key="late-api-key") as api:
            clock.advance(60)
            thread.join(timeout=30)
            assert registered and api.graphql("query { agent { id } }")["agent"] == [
                {"id": registered[0]}
            ]
    assert url in caplog.text

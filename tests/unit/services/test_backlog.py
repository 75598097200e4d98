"""The backlog policy, applied by the deployer to runs that became late during an outage."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import ApiUnavailable
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.domain.states import FAILED, SCHEDULED, SUBMITTED
from prefect_agent.services.agent import AgentService
from prefect_agent.services.backlog import BacklogPolicy
from prefect_agent.services.run_failure import RunFailer
from prefect_agent.testing import FakeClock, FakePlatform, InlineExecutor, InMemoryRunSource


def agent_with(
    ops: OperationsSettings, clock: FakeClock
) -> tuple[AgentService, InMemoryRunSource, FakePlatform]:
    source = InMemoryRunSource(clock=clock)
    platform = FakePlatform()
    agent = AgentService(
        config=AgentConfig(name="late-agent", operations=ops),
        source=source,
        platform=platform,
        clock=clock,
        executor=InlineExecutor(),
    )
    agent.register()
    return agent, source, platform


def test_skip_fails_runs_over_the_threshold_and_launches_the_rest() -> None:
    clock = FakeClock()
    ops = OperationsSettings(backlog_policy="skip", backlog_threshold_seconds=60)
    agent, source, platform = agent_with(ops, clock)
    very_late = source.add_run(start_time=clock.now() - timedelta(seconds=120))
    a_bit_late = source.add_run(start_time=clock.now() - timedelta(seconds=30))
    on_time = source.add_run()
    agent.step()
    assert sorted(platform.launched_ids()) == sorted([a_bit_late, on_time])
    assert source.history(very_late) == [SCHEDULED, FAILED]
    (log,) = source.logs(very_late)
    assert log.level == "ERROR"
    assert log.message == (
        "Skipped by agent 'late-agent': the run was 120s late, more than the backlog "
        "threshold of 60s (backlog policy 'skip')"
    )
    assert very_late not in agent.in_flight
    assert len(agent.in_flight) == 0


def test_launch_policy_launches_everything_and_says_how_late(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    ops = OperationsSettings(backlog_policy="launch", backlog_threshold_seconds=60)
    agent, source, platform = agent_with(ops, clock)
    ids = [source.add_run(start_time=clock.now() - timedelta(seconds=s)) for s in (300, 90, 0)]
    with caplog.at_level(logging.WARNING, logger="prefect_agent.services.backlog"):
        agent.step()
    assert sorted(platform.launched_ids()) == sorted(ids)
    assert "Launching 3 flow run(s), up to 300s late (backlog policy: launch)" in caplog.text


def test_without_a_threshold_nothing_is_skipped() -> None:
    clock = FakeClock()
    agent, source, platform = agent_with(OperationsSettings(backlog_policy="skip"), clock)
    run_id = source.add_run(start_time=clock.now() - timedelta(days=2))
    agent.step()
    assert platform.launched_ids() == [run_id]


def test_a_run_claimed_meanwhile_by_another_agent_is_left_alone() -> None:
    clock = FakeClock()
    source = InMemoryRunSource(clock=clock)
    source.register(agent_type="LocalAgent", name="x", labels=[], agent_config_id=None)
    run_id = source.add_run(start_time=clock.now() - timedelta(seconds=500))
    (run,) = source.ready_runs([], before=clock.now()).runs
    assert source.claim([run])  # another agent wins the run first
    policy = BacklogPolicy(
        settings=OperationsSettings(backlog_policy="skip", backlog_threshold_seconds=10),
        failer=RunFailer(source, "late-agent"),
        agent_name="late-agent",
    )
    admitted, skipped = policy.admit([run], clock.now())
    assert (admitted, skipped) == ([], [run])
    assert source.history(run_id) == [SCHEDULED, SUBMITTED]
    assert source.logs(run_id) == []


def test_an_api_error_while_skipping_leaves_the_run_for_the_next_poll() -> None:
    clock = FakeClock()
    ops = OperationsSettings(backlog_policy="skip", backlog_threshold_seconds=10)
    agent, source, platform = agent_with(ops, clock)
    run_id = source.add_run(start_time=clock.now() - timedelta(seconds=50))
    source.faults.fail_next("mark_failed", 1, ApiUnavailable("down"))
    agent.step()
    assert source.state_of(run_id) == SCHEDULED
    assert run_id not in agent.in_flight
    agent.step()
    assert source.state_of(run_id) == FAILED
    assert platform.launched_ids() == []


def test_task_run_retries_have_no_start_time_and_are_never_skipped() -> None:
    clock = FakeClock()
    policy = BacklogPolicy(
        settings=OperationsSettings(backlog_policy="skip", backlog_threshold_seconds=0),
        failer=RunFailer(InMemoryRunSource(clock=clock), "a"),
        agent_name="a",
    )
    retry = FlowRun(id="r", version=3, state="Running", start_time=None)
    assert policy.admit([retry], clock.now()) == ([retry], [])

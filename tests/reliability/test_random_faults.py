"""20% of API calls fail at random: nothing is lost or started twice."""

from __future__ import annotations

import time

from prefect_agent.server.testing import RunningServer
from tests.reliability.fault_proxy import AFTER_API, BEFORE_API, FaultPlan, FaultProxy
from tests.reliability.harness import (
    CapturedLogs,
    InProcessAgent,
    expect_nothing_lost,
    seed_runs,
    states_of,
    tally,
    wait_for_fates,
    wait_until,
)

RUNS = 300
SPREAD = 15.0
"""Seconds over which the runs fall due, so the agent polls and claims many times."""


def test_random_failures_before_the_api(
    api: RunningServer, proxy: FaultProxy, agent_logs: CapturedLogs
) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=SPREAD)
    began = time.monotonic()
    with InProcessAgent(proxy.url) as agent:
        # Faults start once the agent is up: start-up has its own (fail fast) rules.
        assert wait_until(lambda: agent.agent.agent_id is not None, 10)
        proxy.plan = FaultPlan.random(0.2, BEFORE_API, seed=20)
        done = wait_until(
            lambda: len(agent.platform.starts) + states_of(api, run_ids)["Failed"] >= RUNS, 120
        )
    figures = tally(api, "20% of calls failing before the API", run_ids, agent.platform.starts)
    figures.seconds = time.monotonic() - began
    figures.extra = {"faults": dict(proxy.stats)}
    figures.show()
    assert done, f"not finished: {states_of(api, run_ids)}"
    assert (figures.lost, figures.doubled) == (0, 0), figures


def test_random_failures_after_the_api_applied_the_request(
    api: RunningServer, proxy: FaultProxy, agent_logs: CapturedLogs
) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=SPREAD)
    began = time.monotonic()
    with InProcessAgent(proxy.url) as agent:
        assert wait_until(lambda: agent.agent.agent_id is not None, 10)
        proxy.plan = FaultPlan.random(0.2, BEFORE_API + AFTER_API, seed=21)
        wait_for_fates(api, run_ids, lambda: agent.platform.starts, 90)
    figures = tally(api, "20% of calls failing, responses lost too", run_ids, agent.platform.starts)
    figures.seconds = time.monotonic() - began
    figures.extra = {"faults": dict(proxy.stats), "states": dict(states_of(api, run_ids))}
    figures.show()
    expect_nothing_lost(api, figures, known_gap=True)

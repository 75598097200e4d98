"""20% of API calls fail at random: nothing is lost or started twice."""

from __future__ import annotations

import time

import pytest

from prefect_agent.server.testing import RunningServer
from tests.reliability.fault_proxy import AFTER_API, BEFORE_API, Fault, FaultPlan, FaultProxy
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


RESENT = tuple(f for f in BEFORE_API if f is not Fault.MALFORMED)
"""Faults the client answers with a re-send (a garbled body is an error at once)."""


@pytest.mark.parametrize(
    ("scenario", "rate", "faults", "seed"),
    [
        ("20% of calls failing before the API", 0.2, BEFORE_API, 20),
        # A claim whose answer is lost or garbled is read back (claim token); when even that
        # fails the agent claims the same runs again later and recognises what it wrote.
        ("10% failing, lost answers among them", 0.1, (*RESENT, Fault.LOST_RESPONSE), 22),
        ("20% failing, lost and garbled answers too", 0.2, BEFORE_API + AFTER_API, 21),
    ],
    ids=["before-api", "lost-answers", "garbled-answers"],
)
def test_random_failures(
    api: RunningServer,
    proxy: FaultProxy,
    agent_logs: CapturedLogs,
    scenario: str,
    rate: float,
    faults: tuple[Fault, ...],
    seed: int,
) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=SPREAD)
    began = time.monotonic()
    with InProcessAgent(proxy.url) as agent:
        # Faults start once the agent is up: start-up has its own (fail fast) rules.
        assert wait_until(lambda: agent.agent.agent_id is not None, 10)
        proxy.plan = FaultPlan.random(rate, faults, seed=seed)
        done = wait_for_fates(api, run_ids, lambda: agent.platform.starts, 90)
    figures = tally(
        api, scenario, run_ids, agent.platform.starts, began=began, faults=dict(proxy.stats)
    )
    expect_nothing_lost(api, figures)
    assert done, f"not finished: {states_of(api, run_ids)}"

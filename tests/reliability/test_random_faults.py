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
    ("scenario", "rate", "faults", "seed", "known_gap"),
    [
        ("20% of calls failing before the API", 0.2, BEFORE_API, 20, False),
        # A lost answer is recovered after the re-send (claim token); a re-send that fails
        # too is the open gap, so this rate keeps three failures in a row negligible.
        ("10% failing, lost answers among them", 0.1, (*RESENT, Fault.LOST_RESPONSE), 22, False),
        ("20% failing, lost and garbled answers too", 0.2, BEFORE_API + AFTER_API, 21, True),
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
    known_gap: bool,
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
    expect_nothing_lost(api, figures, known_gap=known_gap)
    assert done, f"not finished: {states_of(api, run_ids)}"

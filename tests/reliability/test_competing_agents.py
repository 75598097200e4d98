"""Five agents with the same name and labels on one API: every run starts exactly once."""

from __future__ import annotations

import time
from contextlib import ExitStack

from prefect_agent.server.testing import RunningServer
from tests.reliability.harness import (
    CapturedLogs,
    InProcessAgent,
    seed_runs,
    states_of,
    tally,
    total_starts,
    wait_until,
)

AGENTS = 5
RUNS = 1000


def test_five_replicas_share_a_burst(api: RunningServer, agent_logs: CapturedLogs) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=5.0)
    began = time.monotonic()
    with ExitStack() as stack:
        # Same name and labels: Prefect Server registers them as one agent (pitfall 2), so
        # only version locking keeps them apart.
        agents = [stack.enter_context(InProcessAgent(api.url, name="replica")) for _ in range(5)]
        done = wait_until(lambda: len(total_starts(agents)) >= RUNS, 120)
    starts = total_starts(agents)
    per_agent = [sum(a.platform.starts.values()) for a in agents]
    figures = tally(
        api, f"{AGENTS} agents, one API", run_ids, starts, began=began, per_agent=per_agent
    )
    assert done, f"not finished: {states_of(api, run_ids)}"
    assert (figures.lost, figures.doubled) == (0, 0), figures
    assert sum(per_agent) == RUNS

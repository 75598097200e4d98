"""The API goes down in the middle of a burst and comes back.

Scaled for CI: 500 runs falling due over 30 s, the API down for 20 s of them (the issue's
60 s outage would only lengthen the wait: after about 16 s the poll loop already sits at the
top of its backoff ladder, 10 s, which is what recovery depends on).
"""

from __future__ import annotations

import time

from prefect_agent.domain.backoff_ladder import BACKOFF_LADDER
from prefect_agent.server.testing import RunningServer
from tests.reliability.fault_proxy import FaultProxy
from tests.reliability.harness import (
    SECRET,
    CapturedLogs,
    InProcessAgent,
    seed_runs,
    states_of,
    tally,
    wait_until,
)
from tests.unit.adapters.health.http_get import request

RUNS = 500
BURST_SECONDS = 30.0
OUTAGE_STARTS_AFTER = 5.0
OUTAGE_SECONDS = 20.0
RECOVERY_SLACK = 1.0
"""On top of one poll interval: the client's own connect retry may be mid-backoff."""


def test_api_down_during_a_burst(
    api: RunningServer, proxy: FaultProxy, agent_logs: CapturedLogs
) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=BURST_SECONDS)
    began = time.monotonic()
    with InProcessAgent(proxy.url) as agent:
        health = agent.health.url
        assert wait_until(lambda: time.monotonic() - began >= OUTAGE_STARTS_AFTER, 30)
        launched_before = len(agent.platform.starts)
        proxy.down()
        outage_began = time.monotonic()
        bodies = []
        # Readiness must notice the outage; liveness must not (the loop is alive).
        assert wait_until(lambda: request(health + "/api/ready").status == 503, OUTAGE_SECONDS)
        noticed = time.monotonic() - outage_began
        bodies.append(request(health + "/api/ready").body)
        assert wait_until(lambda: time.monotonic() - outage_began >= OUTAGE_SECONDS, 60)
        live = request(health + "/api/health")
        bodies.append(live.body)
        assert live.status == 200, live.body
        proxy.poll_passed.clear()
        proxy.up()
        came_back = time.monotonic()
        assert proxy.poll_passed.wait(BACKOFF_LADDER[-1] + 30)
        recovery = time.monotonic() - came_back
        done = wait_until(lambda: len(agent.platform.starts) >= RUNS, 60)
        bodies.append(request(health + "/api/ready").body)
        bodies.append(request(health + "/metrics").body)
    figures = tally(
        api,
        "API down during a burst",
        run_ids,
        agent.platform.starts,
        began=began,
        outage_s=OUTAGE_SECONDS,
        launched_before_outage=launched_before,
        readiness_503_after_s=round(noticed, 2),
        recovery_s=round(recovery, 2),
    )
    assert done, f"not finished: {states_of(api, run_ids)}"
    assert (figures.lost, figures.doubled) == (0, 0), figures
    assert recovery <= BACKOFF_LADDER[-1] + RECOVERY_SLACK, f"polling resumed after {recovery}s"
    assert all(SECRET not in body for body in bodies)

"""Malformed API responses and malformed run configs: the bad run fails with its reason, the
agent keeps serving every other run."""

from __future__ import annotations

import itertools
import time

from prefect_agent.server.testing import RunningServer
from tests.reliability.fault_proxy import Fault, FaultPlan, FaultProxy
from tests.reliability.harness import (
    CapturedLogs,
    InProcessAgent,
    seed_runs,
    states_of,
    tally,
    wait_until,
)

GOOD = 200
BROKEN_CONFIGS = (
    {"type": "NoSuchRun"},
    {"type": "LocalRun", "env": "not a mapping"},
    {"type": "KubernetesRun", "image_pull_policy": "Sometimes"},
    {"type": "DockerRun", "image": "busybox"},  # valid, but not for a local agent
    "not even an object",
)


def test_bad_run_configs_fail_their_runs_and_only_those(
    api: RunningServer, agent_logs: CapturedLogs
) -> None:
    good = seed_runs(api, GOOD, spread_seconds=5.0)
    bad = [
        run_id
        for config in BROKEN_CONFIGS
        for run_id in seed_runs(api, 4, run_config=config, spread_seconds=5.0)
    ]
    began = time.monotonic()
    with InProcessAgent(api.url) as agent:
        done = wait_until(
            lambda: (
                len(agent.platform.starts) >= GOOD and states_of(api, bad)["Failed"] == len(bad)
            ),
            60,
        )
    reasons = sorted({log["message"] for run_id in bad[::4] for log in api.logs(run_id)})
    figures = tally(
        api,
        "malformed run configs",
        good + bad,
        agent.platform.starts,
        began=began,
        reasons=reasons,
    )
    assert done, f"good: {states_of(api, good)}, bad: {states_of(api, bad)}"
    assert (figures.lost, figures.doubled) == (0, 0), figures
    assert figures.failed_with_reason == len(bad)
    assert not set(agent.platform.starts) & set(bad)
    assert any("DockerRun" in reason for reason in reasons)


def test_garbled_poll_responses_do_not_stop_the_agent(
    api: RunningServer, proxy: FaultProxy, agent_logs: CapturedLogs
) -> None:
    run_ids = seed_runs(api, GOOD, spread_seconds=10.0)
    polls = itertools.count()

    def every_other_poll(body: bytes) -> Fault:
        if b"get_runs_in_queue" in body or b"flow_run(" in body:
            return Fault.MALFORMED if next(polls) % 2 else Fault.MALFORMED_RESPONSE
        return Fault.PASS

    began = time.monotonic()
    with InProcessAgent(proxy.url) as agent:
        assert wait_until(lambda: agent.agent.agent_id is not None, 10)
        proxy.plan = FaultPlan(every_other_poll)
        # Failed polls back off (0.5, 1, 2, 4 s): four garbled polls take about 8 s.
        assert wait_until(
            lambda: proxy.stats["malformed"] + proxy.stats["malformed-response"] >= 4, 30
        )
        proxy.plan = FaultPlan.passthrough()
        done = wait_until(lambda: len(agent.platform.starts) >= GOOD, 60)
    figures = tally(
        api,
        "garbled poll responses",
        run_ids,
        agent.platform.starts,
        began=began,
        faults=dict(proxy.stats),
    )
    assert done, f"not finished: {states_of(api, run_ids)}"
    assert (figures.lost, figures.doubled) == (0, 0), figures

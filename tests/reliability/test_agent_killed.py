"""The agent is killed with SIGKILL in the middle of a burst and started again.

Every run must end launched exactly once (its process started once, whichever agent process
started it) or Failed with a reason; none may stay Submitted without a process. The runs'
processes outlive the killed agent and are adopted by the new one. Real subprocesses: the
CLI agent, and ``child_flow.py`` per run.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from prefect_agent.server.testing import RunningServer
from tests.reliability.harness import (
    SECRET,
    expect_nothing_lost,
    markers,
    seed_runs,
    start_cli_agent,
    states_of,
    tally,
    wait_for_fates,
    wait_until,
)

RUNS = 150
SPREAD = 6.0
KILL_AFTER_STARTS = RUNS // 3
AGENT_FLAGS = ("--name", "killable", "--prefetch-seconds", "1")


def finished(api: RunningServer, run_ids: list[str]) -> set[str]:
    rows = api.store.rows_by("flow_run", "id", run_ids)
    return {row["id"] for row in rows if row["state"] == "Success"}


LAZARUS_AFTER = 8.0
"""Seconds a run may sit in Submitted with no process before the API schedules it again."""


@pytest.fixture
def api_options() -> dict[str, Any]:
    # Like Prefect Server, the API reschedules runs stuck in Submitted (Lazarus): runs the
    # first agent claimed but had not started when it was killed come back to the second.
    return {"lazarus_after": LAZARUS_AFTER, "api_key": SECRET}


def test_sigkill_mid_burst_then_restart(api: RunningServer, tmp_path: Path) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=SPREAD)
    began = time.monotonic()
    with open(tmp_path / "agent-1.log", "wb") as log1:
        first = start_cli_agent(api.url, tmp_path, log1, *AGENT_FLAGS, child_seconds=1.5)
        try:
            assert wait_until(lambda: len(markers(tmp_path)) >= KILL_AFTER_STARTS, 60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
    at_kill = states_of(api, run_ids)
    started_at_kill = len(markers(tmp_path))
    with open(tmp_path / "agent-2.log", "wb") as log2:
        second = start_cli_agent(api.url, tmp_path, log2, *AGENT_FLAGS, child_seconds=1.5)
        try:
            # Launched means started, then finished on its own (Success), here.
            done = wait_for_fates(api, run_ids, lambda: finished(api, run_ids), 90)
        finally:
            second.send_signal(signal.SIGTERM)
            exit_code = second.wait(30)
    starts = Counter(str(m["run_id"]) for m in markers(tmp_path))
    logs = (tmp_path / "agent-1.log").read_text() + (tmp_path / "agent-2.log").read_text()
    adopted = [line for line in logs.splitlines() if "launched before this agent started" in line]
    figures = tally(
        api,
        "SIGKILL mid-burst, then restart",
        run_ids,
        starts,
        began=began,
        started_before_kill=started_at_kill,
        states_at_kill=dict(at_kill),
        final_states=dict(states_of(api, run_ids)),
        adopted=adopted[-1].split("|")[-1].strip() if adopted else "none",
        exit_after_SIGTERM=exit_code,
    )
    assert exit_code == 0
    # Secrets: not in either agent's output, nor in any child's argv.
    assert SECRET not in logs
    assert all(SECRET not in json.dumps(m["argv"]) for m in markers(tmp_path))
    expect_nothing_lost(api, figures)
    assert done, figures

"""The agent is killed with SIGKILL in the middle of a burst and started again.

Every run must end launched exactly once (its process started once, whichever agent process
started it) or Failed with a reason; none may stay Submitted without a process. The runs'
processes outlive the killed agent and are adopted by the new one. Real subprocesses: the
CLI agent, and ``child_flow.py`` per run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO

from prefect_agent.server.testing import RunningServer
from tests.reliability.harness import (
    SECRET,
    expect_nothing_lost,
    seed_runs,
    states_of,
    tally,
    wait_for_fates,
    wait_until,
)

RUNS = 150
SPREAD = 6.0
KILL_AFTER_STARTS = RUNS // 3
CHILD = Path(__file__).with_name("child_flow.py")


def markers(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def start_agent(api_url: str, tmp: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
    env.update(
        {
            # The key travels in the environment only: never on any command line.
            "PREFECT__CLOUD__API_KEY": SECRET,
            "PREFECT__USER_CONFIG_PATH": str(tmp / "no-config.toml"),
            "RELIABILITY_MARKERS": str(tmp / "markers.jsonl"),
            "RELIABILITY_CHILD_SECONDS": "1.5",
        }
    )
    command = [
        sys.executable,
        "-m",
        "prefect_agent",
        "agent",
        "local",
        "start",
        "--api",
        api_url,
        "--name",
        "killable",
        "--label",
        "reliability",
        "--no-hostname-label",
        "--state-dir",
        str(tmp / "state"),
        "--flow-run-command",
        f"{sys.executable} {CHILD}",
        "--prefetch-seconds",
        "1",
        "--log-level",
        "DEBUG",
    ]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_sigkill_mid_burst_then_restart(api: RunningServer, tmp_path: Path) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=SPREAD)
    marker_file = tmp_path / "markers.jsonl"
    began = time.monotonic()
    with open(tmp_path / "agent-1.log", "wb") as log1:
        first = start_agent(api.url, tmp_path, log1)
        try:
            assert wait_until(lambda: len(markers(marker_file)) >= KILL_AFTER_STARTS, 60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
    at_kill = Counter(states_of(api, run_ids))
    started_at_kill = len(markers(marker_file))
    with open(tmp_path / "agent-2.log", "wb") as log2:
        second = start_agent(api.url, tmp_path, log2)
        try:
            # Launched means started and then finished on its own (Success) here.
            done = wait_for_fates(
                api,
                run_ids,
                lambda: [r for r in run_ids if r in finished(api, run_ids)],
                90,
            )
        finally:
            second.send_signal(signal.SIGTERM)
            exit_code = second.wait(30)
    starts = Counter(str(m["run_id"]) for m in markers(marker_file))
    figures = tally(api, "SIGKILL mid-burst, then restart", run_ids, starts)
    figures.seconds = time.monotonic() - began
    logs = (tmp_path / "agent-1.log").read_text() + (tmp_path / "agent-2.log").read_text()
    adopted = [line for line in logs.splitlines() if "launched before this agent started" in line]
    figures.extra = {
        "started_before_kill": started_at_kill,
        "states_at_kill": dict(at_kill),
        "final_states": dict(states_of(api, run_ids)),
        "adopted": adopted[-1].split("|")[-1].strip() if adopted else "none",
        "exit_after_SIGTERM": exit_code,
    }
    figures.show()
    assert exit_code == 0
    # Secrets: not in either agent's output, nor in any child's argv.
    assert SECRET not in logs
    assert all(SECRET not in json.dumps(m["argv"]) for m in markers(marker_file))
    expect_nothing_lost(api, figures, known_gap=True)
    assert done, figures


def finished(api: RunningServer, run_ids: list[str]) -> set[str]:
    return {
        row["id"]
        for row in api.store.rows_by("flow_run", "id", run_ids)
        if row["state"] == "Success"
    }

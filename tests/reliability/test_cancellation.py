"""Users cancel runs in the middle of a burst; the agent stops exactly those.

Scaled for CI (docs/operations.md): 40 local runs with 20 cancelled (the issue's 100 would
only multiply processes), 8 Docker containers with 4 cancelled. The states are written as a
user's cancellation writes them, serialized by Prefect 1.4.1 itself: ``Cancelling`` for a
run whose flow process runs, ``Cancelled`` for one that has not started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import docker
import pytest

from prefect_agent.server.testing import RunningServer
from tests.contract.test_platform_local import processes_of_run
from tests.docker.conftest import BUSYBOX, docker_engine, remove_agent_containers
from tests.reliability.harness import (
    SECRET,
    InProcessAgent,
    markers,
    run_logs,
    seed_runs,
    set_states,
    start_cli_agent,
    states_of,
    wait_until,
)

__all__ = ["docker_engine"]  # the Docker suite's fixture, used here too

RUNS = 40
GRACE = 1.0
"""``--stop-grace-seconds``: the children ignore SIGTERM, so they end by SIGKILL after it."""


@pytest.fixture(scope="module")
def prefect1_made(prefect1: Any) -> dict[str, Any]:
    """What Prefect 1.4.1 serializes: the two cancellation states and a DockerRun, in one go."""
    made: dict[str, Any] = prefect1.json_of(
        "import json; import prefect.engine.state as s; from prefect.run_configs import DockerRun\n"
        "print(json.dumps({"
        "'Cancelling': s.Cancelling('Cancelled by its user').serialize(), "
        "'Cancelled': s.Cancelled('Cancelled before it started').serialize(), "
        f"'DockerRun': DockerRun(image={BUSYBOX!r}, ports=[]).serialize()}}))"
    )
    return made


def running(api: RunningServer, run_ids: list[str]) -> bool:
    return states_of(api, run_ids).get("Running", 0) == len(run_ids)


def test_cancelling_local_runs_during_a_burst(
    api: RunningServer, tmp_path: Path, prefect1_made: dict[str, Any]
) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=3.0)
    later = datetime.now(timezone.utc) + timedelta(seconds=8)
    waiting = seed_runs(api, 4, start_time=later)  # fetched early, waiting for their time
    victims, others = run_ids[::2], run_ids[1::2]
    log_path = tmp_path / "agent.log"
    with open(log_path, "wb") as log:
        agent = start_cli_agent(
            api.url, tmp_path, log,
            "--name", "canceller", "--prefetch-seconds", "10",
            "--stop-grace-seconds", str(GRACE), "--monitor-interval", "0.5",
            child_seconds=600, child_env={"RELIABILITY_IGNORE_SIGTERM": "1"},
        )  # fmt: skip
        try:
            assert wait_until(lambda: running(api, run_ids), 90), states_of(api, run_ids)
            set_states(api, waiting, prefect1_made["Cancelled"])
            began = time.monotonic()
            set_states(api, victims, prefect1_made["Cancelling"])
            assert wait_until(
                lambda: (
                    states_of(api, victims).get("Cancelled") == len(victims)
                    and not any(processes_of_run(v) for v in victims)
                ),
                60,
            ), states_of(api, victims)
            took = time.monotonic() - began
            # Past the start time of the waiting runs (and a poll): they would have launched.
            assert wait_until(lambda: datetime.now(timezone.utc) > later + timedelta(seconds=2), 30)
            survivors = {run_id: processes_of_run(run_id) for run_id in others}
            other_states = states_of(api, others)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
            for marker in markers(tmp_path):  # launched runs outlive the agent, as in Prefect 1
                if marker["run_id"] not in victims:
                    _kill_group(int(marker["pid"]))
    started = [m["run_id"] for m in markers(tmp_path)]
    print(
        f"\n[reliability] cancel local runs: runs={RUNS}, cancelled={len(victims)}, "
        f"waiting cancelled={len(waiting)}, all stopped after {took:.1f}s "
        f"(grace {GRACE:g}s, SIGTERM ignored)"
    )
    assert took >= GRACE  # SIGTERM was ignored: only SIGKILL after the grace period ended them
    for run_id in victims:
        logs = run_logs(api, run_id)
        assert any(
            "cancelling by its user: agent canceller stopped process group" in m
            and f"SIGKILL after {GRACE:g} s" in m
            for m in logs
        ), logs
        assert api.state_of(run_id) == "Cancelled"
        assert started.count(run_id) == 1
    assert survivors == dict.fromkeys(others, 1), "a run nobody cancelled was touched"
    assert other_states == {"Running": len(others)}
    assert not set(waiting) & set(started), "a cancelled run was launched"
    assert states_of(api, waiting) == {"Cancelled": len(waiting)}
    assert SECRET not in log_path.read_text()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def docker_agent_name(docker_engine: Any) -> Iterator[str]:
    name = f"cancel-{os.getpid()}-{time.monotonic_ns() % 10**8}"
    yield name
    remove_agent_containers(docker_engine, name)


def test_cancelling_docker_runs_stops_and_removes_their_containers(
    api: RunningServer,
    docker_engine: Any,
    docker_agent_name: str,
    prefect1_made: dict[str, Any],
) -> None:
    from prefect_agent.adapters.docker.platform import DockerPlatform
    from prefect_agent.domain.docker_settings import DockerSettings

    run_ids = seed_runs(api, 8, run_config=prefect1_made["DockerRun"])
    victims, others = run_ids[::2], run_ids[1::2]

    def containers(run_id: str) -> list[Any]:
        label = f"io.prefect.flow-run-id={run_id}"
        try:
            return list(docker_engine.containers.list(all=True, filters={"label": label}))
        except docker.errors.NotFound:  # removed between the engine's list and its inspect
            return []

    def live(run_id: str) -> bool:
        return any(c.status == "running" for c in containers(run_id))

    with InProcessAgent(
        api.url,
        name=docker_agent_name,
        make_platform=DockerPlatform.from_config,
        flow_run_command=("sleep", "600"),  # busybox's sleep as PID 1 ignores SIGTERM
        monitor_interval=0.5,
        platform=DockerSettings(stop_grace_seconds=GRACE, pull_policy="Never"),
    ) as agent:
        assert wait_until(lambda: all(live(r) for r in run_ids), 90), states_of(api, run_ids)
        began = time.monotonic()
        # Still Submitted (nothing in the container reports Running): a user's cancel of a
        # run whose flow has not started.
        set_states(api, victims, prefect1_made["Cancelling"])
        assert wait_until(
            lambda: (
                states_of(api, victims).get("Cancelled") == len(victims)
                and not any(containers(v) for v in victims)
            ),
            60,
        ), states_of(api, victims)
        took = time.monotonic() - began
        assert all(live(r) for r in others)
        assert states_of(api, others) == {"Submitted": len(others)}
        agent.wake()
    print(
        f"\n[reliability] cancel Docker runs: runs={len(run_ids)}, cancelled={len(victims)}, "
        f"containers gone after {took:.1f}s (grace {GRACE:g}s)"
    )
    assert took >= GRACE
    for run_id in victims:
        assert any(
            "agent " + docker_agent_name + " stopped container prefect-" in m
            for m in run_logs(api, run_id)
        )

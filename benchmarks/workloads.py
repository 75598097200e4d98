"""The measured workloads; each starts a fresh embedded API and one agent process."""

from __future__ import annotations

import random
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.agents import LABEL, AgentUnderTest, RunningAgent
from benchmarks.process_stats import cpu_seconds, memory_mib
from prefect_agent.server.testing import RunningServer, running_server

# Prefect 1.4.1's local agent refuses runs without storage; ours ignores it.
LOCAL_STORAGE = {
    "type": "Local",
    "path": "/nonexistent/flow.py",
    "directory": "/nonexistent",
    "stored_as_script": True,
    "flows": {},
    "secrets": [],
    "__version__": "1.4.1",
}
LAUNCHED = "Submitted for execution%"
POLL = 0.02


class FirstRequest:
    """Notes when the agent's first API request arrives, and its CPU time at that moment."""

    def __init__(self, api: RunningServer) -> None:
        self.pid = 0
        self.at: float | None = None
        self.wall: datetime | None = None
        self.cpu = 0.0
        self.seen = threading.Event()
        record = api.stats.record

        def noting(fields: Any) -> None:
            if self.at is None:
                self.at = time.monotonic()
                self.wall = datetime.now(timezone.utc)
                self.cpu = cpu_seconds(self.pid) if self.pid else 0.0
                self.seen.set()
            record(fields)

        api.stats.record = noting  # type: ignore[method-assign, assignment]


@contextmanager
def agent_on_fresh_api(
    agent: AgentUnderTest,
    workdir: Path,
    prepare: Callable[[RunningServer, str], None] | None = None,
) -> Iterator[tuple[RunningServer, RunningAgent, FirstRequest, str]]:
    with running_server() as api:
        flow_id = api.create_flow("bench-flow", storage=LOCAL_STORAGE)
        if prepare is not None:
            prepare(api, flow_id)
        first = FirstRequest(api)
        running = RunningAgent(agent, api.url, workdir, api.api_key)
        first.pid = running.pid
        try:
            if not first.seen.wait(60):
                raise RuntimeError(f"{agent.name} made no API request in 60 s; see {running.log}")
            yield api, running, first, flow_id
        finally:
            running.stop()


def wait_until(probe: Callable[[], bool], deadline: float, what: str) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if probe():
            return
        time.sleep(POLL)
    raise TimeoutError(f"timed out after {deadline:.0f} s waiting for {what}")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def launch_times(api: RunningServer) -> list[datetime]:
    """When each run's "Submitted for execution" line was written (after its launch)."""
    with api.store.reading() as conn:
        rows = conn.execute(
            "SELECT timestamp FROM log WHERE message LIKE ?", (LAUNCHED,)
        ).fetchall()
    return sorted(_parse(row[0]) for row in rows)


def launched_count(api: RunningServer) -> int:
    with api.store.reading() as conn:
        row = conn.execute("SELECT count(*) FROM log WHERE message LIKE ?", (LAUNCHED,)).fetchone()
    return int(row[0])


def submitted_times(api: RunningServer) -> dict[str, datetime]:
    with api.store.reading() as conn:
        rows = conn.execute(
            "SELECT flow_run_id, min(timestamp) FROM flow_run_state WHERE state = 'Submitted' "
            "GROUP BY flow_run_id"
        ).fetchall()
    return {row[0]: _parse(row[1]) for row in rows}


def created_time(api: RunningServer, run_id: str) -> datetime:
    with api.store.reading() as conn:
        row = conn.execute("SELECT created FROM flow_run WHERE id = ?", (run_id,)).fetchone()
    return _parse(row[0])


def _is_submitted(api: RunningServer, run_id: str) -> bool:
    return run_id in submitted_times(api)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(share * 100) - 1]


# -- the workloads ------------------------------------------------------------------------------


def alternating(
    agents: list[AgentUnderTest],
    repeats: int,
    measure: Callable[[AgentUnderTest, int], dict[str, float]],
) -> dict[str, dict[str, float]]:
    """Per agent, the median of each figure of ``measure(agent, repeat)`` over ``repeats``
    rounds in which the agents take turns (A, B, A, B...): a short workload measured minutes
    apart for each agent would compare two different machines when its speed drifts."""
    rounds: dict[str, list[dict[str, float]]] = {agent.name: [] for agent in agents}
    for repeat in range(repeats):
        for agent in agents:
            rounds[agent.name].append(measure(agent, repeat))
    return {
        name: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for name, results in rounds.items()
    }


def cold_starts(
    agents: list[AgentUnderTest], workdir: Path, *, starts: int
) -> dict[str, dict[str, float]]:
    """Per agent, the median time from spawning it to its first API request, caches warm.

    The agents' starts alternate (A, B, A, B...), so a machine that gets slower or faster
    during the run affects both alike: start-up times are short enough for that to matter.
    """
    for agent in agents:
        warm = subprocess.run(agent.warm_up(), capture_output=True, timeout=120)
        if warm.returncode != 0:
            raise RuntimeError(f"warm-up of {agent.name} failed: {warm.stderr.decode()[-300:]}")
    times: dict[str, list[float]] = {agent.name: [] for agent in agents}
    for index in range(starts):
        for agent in agents:
            where = workdir / agent.name.replace(" ", "-") / f"cold-{index}"
            with agent_on_fresh_api(agent, where) as (_api, running, first, _):
                assert first.at is not None
                times[agent.name].append(first.at - running.started)
    return {
        name: {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t)}
        for name, t in times.items()
    }


def idle_and_pickup(
    agent: AgentUnderTest, workdir: Path, *, idle_seconds: float, samples: int, seed: int
) -> dict[str, float]:
    """Idle memory and requests per minute, then run-now pick-up latency."""
    with agent_on_fresh_api(agent, workdir / "idle") as (api, running, _first, flow_id):
        settle = 20.0  # both agents reach their longest poll interval after ~16 s of nothing
        time.sleep(settle)
        before = api.stats.requests
        time.sleep(idle_seconds)
        idle_requests = api.stats.requests - before
        idle_rss = memory_mib(running.pid)["rss"]
        rng = random.Random(seed)  # the same arrival times for every agent
        latencies = []
        for _ in range(samples):
            time.sleep(rng.uniform(0, 20))
            run_id = api.create_run(labels=[LABEL], flow_id=flow_id)
            wait_until(partial(_is_submitted, api, run_id), 60, "a run-now run's pick-up")
            latencies.append(
                (submitted_times(api)[run_id] - created_time(api, run_id)).total_seconds()
            )
    return {
        "idle_rss_mib": idle_rss,
        "idle_requests_per_min": idle_requests * 60.0 / idle_seconds,
        "pickup_p50_s": percentile(latencies, 0.50),
        "pickup_p95_s": percentile(latencies, 0.95),
    }


def burst(agent: AgentUnderTest, workdir: Path, *, count: int, deadline: float) -> dict[str, float]:
    """``count`` runs queued before the agent starts; measured from its first request."""

    def queue(api: RunningServer, flow_id: str) -> None:
        api.create_runs(count, flow_id=flow_id, labels=[LABEL])

    with agent_on_fresh_api(agent, workdir / f"burst-{count}", queue) as (api, running, first, _):
        assert first.wall is not None
        wait_until(lambda: launched_count(api) >= count, deadline, f"{count} launches")
        cpu = cpu_seconds(running.pid) - first.cpu
        peak = memory_mib(running.pid)["peak"]
        requests = api.stats.requests
        launched = launch_times(api)
        submitted = submitted_times(api)
    all_launched = (launched[-1] - first.wall).total_seconds()
    return {
        "all_submitted_s": (max(submitted.values()) - first.wall).total_seconds(),
        "all_launched_s": all_launched,
        "runs_per_s": count / all_launched,
        "cpu_ms_per_run": cpu * 1000.0 / count,
        "requests_per_run": requests / count,
        "peak_rss_mib": peak,
    }


def due_at_once(
    agent: AgentUnderTest, workdir: Path, *, count: int, lead_seconds: float, deadline: float
) -> dict[str, float]:
    """``count`` runs all due at one instant ``lead_seconds`` after they are created."""
    with agent_on_fresh_api(agent, workdir / f"due-{count}") as (api, _running, _first, flow_id):
        time.sleep(3.0)  # let the agent settle into polling
        due = datetime.now(timezone.utc) + timedelta(seconds=lead_seconds)
        api.create_runs(count, flow_id=flow_id, labels=[LABEL], start_time=due)
        wait_until(lambda: launched_count(api) >= count, lead_seconds + deadline, "due launches")
        launched = launch_times(api)
    lateness = [(moment - due).total_seconds() for moment in launched]
    # prefect-agent writes the "Submitted for execution" lines of one claim batch together,
    # once every launch in it is done: its log times are upper bounds of its launch times.
    return {
        "median_launch_after_due_s": statistics.median(lateness),
        "last_launch_after_due_s": lateness[-1],
    }

"""The measured workloads; each starts a fresh embedded API and one agent process."""

from __future__ import annotations

import os
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

from benchmarks.agents import LABEL, NEAR_FREE_COMMAND, AgentUnderTest, RunningAgent
from benchmarks.process_stats import busy_fraction, cpu_seconds, machine_jiffies, memory_mib
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


class MachineLoad:
    """Samples the machine's CPU counters (/proc/stat) every few milliseconds on a thread of
    its own, so the busy share of any window measured afterwards can be read off."""

    INTERVAL = 0.025

    def __init__(self) -> None:
        self._samples: list[tuple[float, tuple[int, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="machine-load", daemon=True)

    def __enter__(self) -> MachineLoad:
        self._samples.append((time.monotonic(), machine_jiffies()))
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            self._samples.append((time.monotonic(), machine_jiffies()))

    def busy(self, start: float, end: float) -> float:
        """The busy share of all cores between two ``time.monotonic`` moments (the samples
        nearest to them: within ``INTERVAL``)."""

        def nearest(moment: float) -> tuple[int, int]:
            return min(self._samples, key=lambda sample: abs(sample[0] - moment))[1]

        return busy_fraction(nearest(start), nearest(end))


@contextmanager
def agent_on_fresh_api(
    agent: AgentUnderTest,
    workdir: Path,
    prepare: Callable[[RunningServer, str], None] | None = None,
    child: str = NEAR_FREE_COMMAND,
) -> Iterator[tuple[RunningServer, RunningAgent, FirstRequest, str]]:
    with running_server() as api:
        flow_id = api.create_flow("bench-flow", storage=LOCAL_STORAGE)
        if prepare is not None:
            prepare(api, flow_id)
        first = FirstRequest(api)
        running = RunningAgent(agent, api.url, workdir, api.api_key, child)
        first.pid = running.pid
        try:
            if not first.seen.wait(60):
                raise RuntimeError(f"{agent.name} made no API request in 60 s; see {running.log}")
            yield api, running, first, flow_id
        finally:
            running.stop()


def wait_until(probe: Callable[[], bool], deadline: float, what: str, poll: float = POLL) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if probe():
            return
        time.sleep(poll)
    raise TimeoutError(f"timed out after {deadline:.0f} s waiting for {what}")


def processes_running(program: str) -> bool:
    """Whether any live process runs ``program`` (an executable script: it shows in the
    interpreter's arguments)."""
    wanted = program.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                arguments = handle.read().split(b"\0")
        except OSError:  # ended meanwhile
            continue
        if wanted in arguments:
            return True
    return False


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def launch_times(api: RunningServer) -> list[datetime]:
    """When each run's "Submitted for execution" line was written (after its launch)."""
    with api.store.reading() as conn:
        rows = conn.execute(
            "SELECT timestamp FROM log WHERE message LIKE ?", (LAUNCHED,)
        ).fetchall()
    return sorted(_parse(row[0]) for row in rows)


def _launched_at_least(api: RunningServer, count: int) -> bool:
    return launched_count(api) >= count


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


BACKGROUND_SECONDS = 1.0
"""How long the machine's load is read before an agent starts (other work on a shared
machine makes the busy share during a burst higher than the agents alone would)."""


def burst(
    agent: AgentUnderTest,
    workdir: Path,
    *,
    count: int,
    deadline: float,
    child: str = NEAR_FREE_COMMAND,
) -> dict[str, float]:
    """``count`` runs queued before the agent starts; measured from its first request.

    ``machine_busy`` is the share of all cores busy from the agent's first request to its
    last launch (everything on the machine: the agent, the API in this process, the launched
    children, and whatever else runs here); ``background_busy`` the same share during the
    second before the agent started.
    """

    def queue(api: RunningServer, flow_id: str) -> None:
        api.create_runs(count, flow_id=flow_id, labels=[LABEL])
        time.sleep(BACKGROUND_SECONDS)

    with MachineLoad() as load:
        background_from = time.monotonic()
        where = workdir / f"burst-{count}"
        with agent_on_fresh_api(agent, where, queue, child) as (api, running, first, _):
            assert first.wall is not None and first.at is not None
            wait_until(lambda: launched_count(api) >= count, deadline, f"{count} launches")
            cpu = cpu_seconds(running.pid) - first.cpu
            peak = memory_mib(running.pid)["peak"]
            requests = api.stats.requests
            launched = launch_times(api)
            submitted = submitted_times(api)
            started_at = running.started
    if child != NEAR_FREE_COMMAND:
        # Children still queued for the CPU would slow down whatever is measured next.
        wait_until(lambda: not processes_running(child), 120.0, f"the children of {agent.name}")
    all_launched = (launched[-1] - first.wall).total_seconds()
    return {
        "all_submitted_s": (max(submitted.values()) - first.wall).total_seconds(),
        "all_launched_s": all_launched,
        "runs_per_s": count / all_launched,
        "cpu_ms_per_run": cpu * 1000.0 / count,
        "requests_per_run": requests / count,
        "peak_rss_mib": peak,
        "machine_busy": load.busy(first.at, first.at + all_launched),
        "background_busy": load.busy(
            max(background_from, started_at - BACKGROUND_SECONDS), started_at
        ),
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


def long_run(
    agent: AgentUnderTest,
    workdir: Path,
    *,
    total: int,
    wave: int,
    reference: int,
    deadline: float,
) -> dict[str, Any]:
    """``total`` runs of the near-free child, queued ``wave`` at a time, each wave once the
    previous one is launched and its outcomes handled (no run record left in the state
    directory). Resident memory is read after each wave: ``rss_growth`` is the last reading
    over the one after ``reference`` runs, so start-up and the first waves' allocations are
    not counted as growth."""
    where = workdir / f"long-{total}"
    state = where / "state"
    with agent_on_fresh_api(agent, where) as (api, running, first, flow_id):
        queued = 0
        readings: list[tuple[int, float]] = []
        started = time.monotonic()
        while queued < total:
            api.create_runs(min(wave, total - queued), flow_id=flow_id, labels=[LABEL])
            queued = min(total, queued + wave)
            wait_until(
                partial(_launched_at_least, api, queued), deadline, f"{queued} launches", poll=0.25
            )
            wait_until(
                lambda: not any(state.glob("*.json")), 120.0, "the agent to handle outcomes",
                poll=0.25,
            )  # fmt: skip
            readings.append((queued, memory_mib(running.pid)["rss"]))
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(running.pid) - first.cpu
    at_reference = next(rss for count, rss in readings if count >= reference)
    end = readings[-1][1]
    return {
        "runs": float(total),
        "rss_after_reference_mib": at_reference,
        "rss_end_mib": end,
        "rss_growth": end / at_reference,
        "runs_per_s": total / elapsed,
        "cpu_ms_per_run": cpu * 1000.0 / total,
        "rss_by_runs": [[count, round(rss, 2)] for count, rss in readings],
    }

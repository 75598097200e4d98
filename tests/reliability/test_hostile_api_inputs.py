"""Hostile inputs: an agent works a burst while the embedded API is attacked (issue 15).

Attackers, each in its own thread for the whole burst: cross-site form posts that try to
schedule a run with an attacker's env, requests without the key or with a wrong one, a
DNS-rebinding Host, and, holding the key, a fragment bomb, a document of repeated fields,
a nested fan-out, ``_like`` patterns made to backtrack, and idle connections. Every attack
must be refused (or answered cheaply), nothing must be scheduled by an attacker, and every
run of the burst must still launch exactly once.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import requests

from prefect_agent.server.testing import RunningServer
from tests.reliability.harness import (
    CapturedLogs,
    InProcessAgent,
    expect_nothing_lost,
    seed_runs,
    states_of,
    tally,
    wait_until,
)

RUNS = 200
IDLE_CONNECTIONS = 24

BOMB = "query { flow_run { ...F30 } }\nfragment F0 on flow_run { id }\n" + "\n".join(
    f"fragment F{i} on flow_run {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 31)
)
REPEATED = "{ " + "flow_run { id name state } " * 300 + "}"
FAN_OUT = "{ flow_run { flow { flow_runs { flow { flow_runs { id } } } } } }"
LIKE = '{ flow_run(where: {name: {_like: "' + "%a" * 12 + '%b"}}) { id } }'


@attrs.define
class Tally:
    """What one kind of attack got: its statuses and its slowest answer."""

    statuses: Counter[int] = attrs.field(factory=Counter)
    slowest: float = 0.0

    def figure(self) -> str:
        codes = "/".join(f"{n}x{status}" for status, n in sorted(self.statuses.items()))
        return f"{codes} slowest {self.slowest * 1000:.0f} ms"


@attrs.define
class Attack:
    """One kind of attack, sent again and again until stopped."""

    name: str
    send: Callable[[requests.Session], int]
    tally: Tally = attrs.field(factory=Tally)

    def run(self, stop: threading.Event) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    status = self.send(session)
                except requests.RequestException:
                    status = 0  # turned away at the connection cap, or reset
                self.tally.slowest = max(self.tally.slowest, time.monotonic() - began)
                self.tally.statuses[status] += 1


def attacks(url: str, key: str, flow_id: str) -> list[Attack]:
    keyed = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    port = url.rsplit(":", 1)[1]
    scheduled = json.dumps(
        {
            "query": "mutation($i: create_flow_run_input!) { create_flow_run(input: $i) { id } }",
            "variables": {
                "i": {
                    "flow_id": flow_id,
                    "labels": ["reliability"],
                    "run_config": {"type": "LocalRun", "env": {"BROWSER": "sh -c id"}},
                }
            },
        }
    )

    def post(headers: dict[str, str], body: str) -> Callable[[requests.Session], int]:
        return lambda s: s.post(url, data=body, headers=headers, timeout=30).status_code

    def query(text: str) -> Callable[[requests.Session], int]:
        return post(keyed, json.dumps({"query": text}))

    return [
        Attack(
            "cross-site form",
            post({"Content-Type": "text/plain", "Origin": "https://evil.example"}, scheduled),
        ),
        Attack("no key", post({"Content-Type": "application/json"}, scheduled)),
        Attack(
            "wrong key",
            post({"Content-Type": "application/json", "Authorization": "Bearer guess"}, scheduled),
        ),
        Attack("rebinding Host", post({**keyed, "Host": f"evil.example:{port}"}, scheduled)),
        Attack("fragment bomb", query(BOMB)),
        Attack("repeated fields", query(REPEATED)),
        Attack("nested fan-out", query(FAN_OUT)),
        Attack("_like backtracking", query(LIKE)),
    ]


def attack_until_stopped(url: str, key: str, flow_id: str, stop: Any, results: Any) -> None:
    """The attackers' process: every attack in its own thread until ``stop`` is set, then
    each one's statuses and slowest answer on ``results``."""
    kinds = attacks(url, key, flow_id)
    halt = threading.Event()
    threads = [threading.Thread(target=a.run, args=(halt,), daemon=True) for a in kinds]
    for thread in threads:
        thread.start()
    stop.wait()
    halt.set()
    for thread in threads:
        thread.join(60)
    results.put({a.name: a.tally for a in kinds})


@contextmanager
def attackers(api: RunningServer) -> Iterator[dict[str, Tally]]:
    """The attacks run from another process, as real attackers would: their own work must
    not compete for this process's GIL with the API and the agent under test. The tallies,
    by attack, arrive when the block ends."""
    assert api.api_key
    spawn = multiprocessing.get_context("spawn")
    stop, results = spawn.Event(), spawn.Queue()
    flow_id = api.create_flow("victim")
    process = spawn.Process(
        target=attack_until_stopped, args=(api.url, api.api_key, flow_id, stop, results)
    )
    process.start()
    tallies: dict[str, Tally] = {}
    try:
        yield tallies
    finally:
        stop.set()
        tallies.update(results.get(timeout=90))
        process.join(30)


@contextmanager
def idle_connections(api: RunningServer, count: int) -> Iterator[Counter[str]]:
    """``count`` connections that send nothing, re-opened whenever the server closes one."""
    host, port = api.url.removeprefix("http://").rsplit(":", 1)
    seen: Counter[str] = Counter()
    stop = threading.Event()

    def hold() -> None:
        while not stop.is_set():
            with socket.create_connection((host, int(port)), timeout=1) as sock:
                seen["opened"] += 1
                while not stop.is_set():
                    try:
                        if not sock.recv(1024):
                            seen["closed by the server"] += 1
                            break
                    except TimeoutError:
                        continue
                    except OSError:
                        seen["reset by the server"] += 1
                        break

    threads = [threading.Thread(target=hold, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield seen
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)


def stalled(
    api: RunningServer, run_ids: list[str], agent: InProcessAgent, logs: CapturedLogs
) -> str:
    """What a stalled burst looked like: the run states, the agent's own warnings, the threads
    alive in this process (a thread leaked by an earlier test competes for the GIL)."""
    warnings = [line for line in logs.lines if not line.startswith(("DEBUG", "INFO"))]
    threads = Counter(t.name.rstrip("0123456789-_ ") for t in threading.enumerate())
    return (
        f"not finished: {states_of(api, run_ids)}; launched {len(agent.platform.starts)}; "
        f"agent error {agent.error!r}\nlast agent warnings:\n"
        + "\n".join(warnings[-30:])
        + f"\nthreads alive: {threading.active_count()} {threads.most_common(15)}"
    )


def test_a_burst_under_attack_launches_every_run_once(
    api: RunningServer, agent_logs: CapturedLogs
) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=10.0)
    began = time.monotonic()
    with (
        idle_connections(api, IDLE_CONNECTIONS) as idle,
        InProcessAgent(api.url) as agent,
        attackers(api) as tallies,
    ):
        # Generous: about 12 s alone.
        done = wait_until(lambda: len(agent.platform.starts) >= RUNS, 240)
    figures = tally(
        api,
        "hostile inputs",
        run_ids,
        agent.platform.starts,
        began=began,
        attacks={name: kind.figure() for name, kind in tallies.items()},
        idle=dict(idle),
    )
    assert done, stalled(api, run_ids, agent, agent_logs)
    expect_nothing_lost(api, figures)
    # Nothing an attacker sent was scheduled: the only runs are the burst's.
    assert len(api.graphql("{ flow_run { id } }")["flow_run"]) == RUNS
    expected = {
        "cross-site form": {403},
        "no key": {401},
        "wrong key": {401},
        "rebinding Host": {421},
        "fragment bomb": {400},
        "repeated fields": {400},
        "nested fan-out": {400},
        "_like backtracking": {200},
    }
    for name, statuses in expected.items():
        attack = tallies[name]
        assert attack.statuses, f"{name} never ran"
        assert set(attack.statuses) <= statuses | {0, 503}, (name, attack.statuses)
        assert attack.statuses[0] + attack.statuses[503] < sum(attack.statuses.values())

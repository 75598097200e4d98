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
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
class Attack:
    """One kind of attack: the statuses it got and its slowest answer."""

    name: str
    send: Callable[[requests.Session], int]
    statuses: Counter[int] = attrs.field(factory=Counter)
    slowest: float = 0.0

    def run(self, stop: threading.Event) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    status = self.send(session)
                except requests.RequestException:
                    status = 0  # turned away at the connection cap, or reset
                self.slowest = max(self.slowest, time.monotonic() - began)
                self.statuses[status] += 1

    def figure(self) -> str:
        codes = "/".join(f"{n}x{status}" for status, n in sorted(self.statuses.items()))
        return f"{codes} slowest {self.slowest * 1000:.0f} ms"


def attacks(api: RunningServer) -> list[Attack]:
    keyed = {**api.auth_headers, "Content-Type": "application/json"}
    port = api.url.rsplit(":", 1)[1]
    flow_id = api.create_flow("victim")
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
        return lambda s: s.post(api.url, data=body, headers=headers, timeout=30).status_code

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


def test_a_burst_under_attack_launches_every_run_once(
    api: RunningServer, agent_logs: CapturedLogs
) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=10.0)
    kinds = attacks(api)
    stop = threading.Event()
    threads = [threading.Thread(target=a.run, args=(stop,), daemon=True) for a in kinds]
    began = time.monotonic()
    with idle_connections(api, IDLE_CONNECTIONS) as idle, InProcessAgent(api.url) as agent:
        for thread in threads:
            thread.start()
        # Generous: about 12 s alone; it once stalled past 120 s at the end of a full suite run.
        done = wait_until(lambda: len(agent.platform.starts) >= RUNS, 240)
        stop.set()
        for thread in threads:
            thread.join(60)
    by_name = {a.name: a for a in kinds}
    figures = tally(
        api,
        "hostile inputs",
        run_ids,
        agent.platform.starts,
        began=began,
        attacks={a.name: a.figure() for a in kinds},
        idle=dict(idle),
    )
    assert done, f"not finished: {states_of(api, run_ids)}"
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
        attack = by_name[name]
        assert attack.statuses, f"{name} never ran"
        assert set(attack.statuses) <= statuses | {0, 503}, (name, attack.statuses)
        assert attack.statuses[0] + attack.statuses[503] < sum(attack.statuses.values())

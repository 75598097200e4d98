"""The API key never shows: not in log lines (text or JSON, errors included), health and
metrics bodies, the agent's own command line, nor any child's argv."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from prefect_agent.server.testing import RunningServer
from tests.network import free_port
from tests.reliability.fault_proxy import BEFORE_API, FaultPlan, FaultProxy
from tests.reliability.harness import SECRET, markers, seed_runs, start_cli_agent, wait_until
from tests.unit.adapters.health.http_get import request

RUNS = 30


def test_the_key_never_shows(api: RunningServer, proxy: FaultProxy, tmp_path: Path) -> None:
    run_ids = seed_runs(api, RUNS, spread_seconds=3.0)
    seed_runs(api, 3, run_config={"type": "DockerRun"})  # failures log their reasons
    port = free_port()
    out = tmp_path / "agent.log"
    with open(out, "wb") as log:
        agent = start_cli_agent(
            proxy.url,
            tmp_path,
            log,
            "--agent-address", f"http://127.0.0.1:{port}",
            "--log-format", "json",
            "--request-timeout", "2",
            child_seconds=0,
        )  # fmt: skip
        bodies: list[str] = []
        try:
            health = f"http://127.0.0.1:{port}"
            assert wait_until(lambda: _status(health + "/api/health") == 200, 20)
            proxy.plan = FaultPlan.random(0.3, BEFORE_API, seed=3)  # errors get logged
            assert wait_until(lambda: len(markers(tmp_path)) >= RUNS, 60)
            for path in ("/api/health", "/api/ready", "/metrics", "/api/poke"):
                bodies.append(request(health + path).body)
            cmdline = Path(f"/proc/{agent.pid}/cmdline").read_bytes().decode()
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
    output = out.read_text()
    argvs = [json.dumps(m["argv"]) for m in markers(tmp_path)]
    print(
        f"\n[reliability] secrets: {len(output.splitlines())} log lines, {len(bodies)} bodies, "
        f"{len(argvs)} child argv checked; faults={dict(proxy.stats)}"
    )
    assert run_ids
    assert SECRET not in output
    assert all(SECRET not in body for body in bodies)
    assert SECRET not in cmdline
    assert all(SECRET not in line for line in argvs)
    # The JSON format held for every line the agent wrote.
    assert all(json.loads(line)["level"] for line in output.splitlines() if line.strip())


def _status(url: str) -> int:
    try:
        return request(url).status
    except OSError:
        return 0

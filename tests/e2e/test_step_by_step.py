"""The demo's job step by step, as a user types it: server, run create, agent, run list and
show (the step-by-step examples of README.md, docs/api.md and docs/local.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.agent_process import local_agent
from tests.network import free_port
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLI = [sys.executable, "-m", "prefect_agent"]


KEY = "step-by-step-key-5e1f2a"
KEYED = {**os.environ, "PREFECT__SERVER__API_KEY": KEY, "PREFECT__CLOUD__API_KEY": KEY}
"""The key the server requires and the CLI sends, as a user exports it in a shell."""


def answers(url: str) -> bool:
    try:
        auth = {"Authorization": f"Bearer {KEY}"}
        return requests.post(url, json={"query": "{ hello }"}, headers=auth, timeout=2).ok
    except requests.RequestException:
        return False


def cli(*args: str) -> str:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=KEYED)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_server_start_run_create_and_agent_start_work_together(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    port = url.rsplit(":", 1)[1]
    server = subprocess.Popen(
        [*CLI, "server", "start", "--port", port, "--db", str(tmp_path / "api.db")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=KEYED,
    )
    try:
        eventually(lambda: answers(url), "the embedded API to answer", 90, step=0.1)
        ids = cli(
            "run", "create", "--api", url, "--label", "demo", "--count", "3",
            "--parameters", '{"seconds": 0}',
        ).split()  # fmt: skip
        assert len(ids) == 3
        agent = local_agent(url, ["demo"], tmp_path, api_key=KEY)
        try:

            def all_succeeded() -> bool:
                listed = json.loads(cli("run", "list", "--api", url, "--json"))
                states = {row["id"]: row["state"] for row in listed}
                return all(states.get(run_id) == "Success" for run_id in ids)

            agent.eventually(all_succeeded, "the runs to succeed")
            shown = cli("run", "show", "--api", url, ids[0])
            assert "State: Success" in shown and "Submitted for execution" in shown
        finally:
            assert agent.terminate() == 0
    finally:
        server.terminate()
        server.wait(30)
    assert os.path.exists(tmp_path / "api.db")

"""prefect-agent and Prefect core 1.4.1 in one virtualenv, installed both ways round.

Both declare a ``prefect`` console script and the one installed last owns it. These install
the built wheel and the real Prefect 1.4.1 into fresh virtualenvs and check what README.md's
"Next to Prefect core" section promises.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_agent import __version__
from prefect_agent.server.testing import running_server
from tests.distribution.venvs import PREFECT_CORE, ROOT, Dist, Venv
from tests.polling import eventually

pytestmark = [pytest.mark.distribution, pytest.mark.slow]

LABEL = "coexist"
OUR_AGENT = f"prefect-agent {__version__}'s agents, not Prefect core's"
FLOW = """
from prefect import Flow, task

@task(log_stdout=True)
def hello():
    print("hello from Prefect core")

with Flow("coexistence") as flow:
    hello()
"""


def words(text: str) -> str:
    return " ".join(text.split())


def documented_fix() -> str:
    """README's one line that gives ``prefect`` back to prefect-agent."""
    readme = (ROOT / "README.md").read_text()
    (line,) = re.findall(r"^pip install --force-reinstall --no-deps prefect-agent$", readme, re.M)
    return line


def agent_runs_a_flow_run(venv: Venv, command: str, tmp: Path) -> str:
    """Start ``command agent local start`` from the venv against an embedded API; the run must
    reach Success, and SIGTERM must stop the agent cleanly. Returns the agent's output."""
    with running_server() as api:
        run_id = api.create_run(labels=[LABEL])
        agent = subprocess.Popen(
            [str(venv.bin / command), "agent", "local", "start", "--api", api.url,
             "--label", LABEL, "--no-hostname-label", "--state-dir", str(tmp / command),
             "--flow-run-command", f"{venv.python} -m prefect_agent.executor"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=venv.env(**api.agent_env),  # the key travels in the environment, never argv
            cwd=venv.home,
        )  # fmt: skip
        try:
            eventually(lambda: api.state_of(run_id) == "Success", "the run to succeed", 90)
            agent.send_signal(signal.SIGTERM)
            output, _ = agent.communicate(timeout=60)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.communicate()
        assert agent.returncode == 0, output
        assert api.history(run_id)[:2] == ["Scheduled", "Submitted"]
        return output


def prefect_core_commands_work(venv: Venv) -> None:
    assert venv.run("prefect", "version").stdout.strip() == "1.4.1"
    assert (
        "Commands for interacting with the Prefect Core server"
        in venv.run("prefect", "server", "--help").stdout
    )
    assert "--project" in venv.run("prefect", "register", "--help").stdout
    (venv.home / "flow.py").write_text(FLOW)
    ran = venv.run("prefect", "run", "--path", "flow.py", timeout=180).stdout
    assert "hello from Prefect core" in ran and "Flow run succeeded!" in ran


@pytest.fixture
def venv(tmp_path: Path) -> Iterator[Venv]:
    made = Venv(tmp_path / "venv")
    yield made
    made.remove()


def test_prefect_agent_installed_last_keeps_every_prefect_core_command(
    dist: Dist, venv: Venv, tmp_path: Path
) -> None:
    venv.pip_install(*PREFECT_CORE)
    venv.pip_install(dist.wheel)

    prefect_core_commands_work(venv)
    listing = venv.run("prefect", "--help").stdout
    assert "Query Commands" in listing  # Prefect core's own help...
    assert "`prefect agent ...` runs prefect-agent's agents" in listing  # ...and our note
    assert OUR_AGENT in words(venv.run("prefect", "agent", "--help").stdout)
    # Our other commands stay reachable under prefect-agent.
    assert "embedded Prefect-compatible API" in venv.run("prefect-agent", "server", "-h").stdout
    agent_runs_a_flow_run(venv, "prefect", tmp_path)  # Prefect core's would reject the flags
    agent_runs_a_flow_run(venv, "prefect-agent", tmp_path)


def test_prefect_core_installed_last_and_the_documented_fix(
    dist: Dist, venv: Venv, tmp_path: Path
) -> None:
    venv.pip_install(dist.wheel)
    # Alone, `prefect` is all of ours.
    assert "embedded Prefect-compatible API" in venv.run("prefect", "server", "--help").stdout

    venv.pip_install(*PREFECT_CORE)
    # Prefect core took `prefect`: its agent group, not ours.
    agent_help = words(venv.run("prefect", "agent", "--help").stdout)
    assert "Manage Prefect agents." in agent_help and OUR_AGENT not in agent_help
    prefect_core_commands_work(venv)
    # prefect-agent still runs our agent.
    assert OUR_AGENT in words(venv.run("prefect-agent", "agent", "--help").stdout)
    agent_runs_a_flow_run(venv, "prefect-agent", tmp_path)

    # README's one-line fix, with this build's wheel standing in for the index.
    fix = documented_fix().split()
    assert fix[:2] == ["pip", "install"] and fix[-1] == "prefect-agent"
    venv.run("python", "-m", *fix[:-1], str(dist.wheel), timeout=300)
    assert OUR_AGENT in words(venv.run("prefect", "agent", "--help").stdout)
    prefect_core_commands_work(venv)
    agent_runs_a_flow_run(venv, "prefect", tmp_path)

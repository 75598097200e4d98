"""How each agent under test is started: prefect-agent, and Prefect 1.4.1 if installed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

LABEL = "bench"
NEAR_FREE_COMMAND = "/bin/true"

# Prefect 1.4.1's local agent always launches ``sys.executable -m prefect execute flow-run``;
# pointing sys.executable at the child (/bin/true, or the Python child's executable script,
# which ignores its arguments) makes it launch the same program as ours.
PREFECT1_LAUNCHER = "import sys; sys.executable = {child!r}; from prefect.cli import cli; cli()"


@dataclass(frozen=True)
class AgentUnderTest:
    name: str
    python: str
    prefect1: bool = False

    def command(self, api: str, state_dir: Path, child: str = NEAR_FREE_COMMAND) -> list[str]:
        """The agent's command line, launching ``child`` (an executable's path) per run."""
        if self.prefect1:
            return [
                self.python, "-c", PREFECT1_LAUNCHER.format(child=child),
                "agent", "local", "start",
                "--no-hostname-label", "--label", LABEL,
            ]  # fmt: skip
        return [
            self.python, "-m", "prefect_agent", "agent", "local", "start",
            "--api", api, "--label", LABEL, "--no-hostname-label",
            "--flow-run-command", child, "--state-dir", str(state_dir),
        ]  # fmt: skip

    def warm_up(self) -> list[str]:
        """Compiles the agent's package to bytecode (as ``pip install`` does; an editable
        install under ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every module at
        every start) and imports what a start imports, so the page cache is warm too."""
        package = "prefect" if self.prefect1 else "prefect_agent"
        modules = (
            "prefect.cli, prefect.agent.local"
            if self.prefect1
            else "prefect_agent.cli.main, prefect_agent.adapters.graphql.run_source, "
            "prefect_agent.adapters.local.platform"
        )
        script = (
            f"import compileall, os, {package}; "
            f"compileall.compile_dir(os.path.dirname({package}.__file__), quiet=1); "
            f"import {modules}"
        )
        return [self.python, "-c", script]

    def environment(self, api: str, home: Path, api_key: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT__")}
        env["HOME"] = str(home)  # no user config file leaks into either agent
        if api_key:  # both agents send it as a Bearer token
            env["PREFECT__CLOUD__API_KEY"] = api_key
        if self.prefect1:
            env["PREFECT__BACKEND"] = "server"
            env["PREFECT__CLOUD__API"] = api
        return env


def ours() -> AgentUnderTest:
    return AgentUnderTest("prefect-agent", sys.executable)


def prefect1(venv: str | None) -> tuple[AgentUnderTest | None, str]:
    """Prefect 1.4.1's agent from ``venv``, or None and why it cannot be used."""
    if not venv:
        return None, "no --prefect1-venv given"
    python = str(Path(venv) / "bin" / "python")
    if not os.path.exists(python):
        return None, f"{python} does not exist (see docs/performance.md to create it)"
    probe = subprocess.run(
        [python, "-c", "import prefect; print(prefect.__version__)"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    version = probe.stdout.strip()
    if probe.returncode != 0 or version != "1.4.1":
        return None, f"{python} has no Prefect 1.4.1 ({probe.stderr.strip()[-200:] or version})"
    return AgentUnderTest("prefect 1.4.1", python, prefect1=True), ""


class RunningAgent:
    """One started agent process; its output is kept in a file for when something fails."""

    def __init__(
        self,
        agent: AgentUnderTest,
        api: str,
        workdir: Path,
        api_key: str | None = None,
        child: str = NEAR_FREE_COMMAND,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "home").mkdir(exist_ok=True)
        self.log = workdir / "agent.log"
        self._output = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            agent.command(api, workdir / "state", child),
            env=agent.environment(api, workdir / "home", api_key),
            stdout=self._output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
        )
        self.pid = self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._output.close()

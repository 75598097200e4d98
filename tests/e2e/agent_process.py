"""The real ``prefect agent local start`` in a subprocess, pointed at an embedded API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

EXECUTOR = f"{sys.executable} -m prefect_agent.executor"


class AgentProcess:
    """Starts the CLI agent with an isolated HOME; its output goes to ``log``."""

    def __init__(
        self,
        api: str,
        labels: Sequence[str],
        workdir: Path,
        *extra: str,
        name: str = "e2e",
        api_key: str | None = None,
    ) -> None:
        self.log = workdir / f"agent-{name}-{time.monotonic_ns()}.log"
        env = dict(os.environ)
        env["HOME"] = str(workdir / "home")  # no user config.toml leaks in
        env.pop("PREFECT__CLOUD__AGENT__LABELS", None)
        if api_key:
            env["PREFECT__CLOUD__API_KEY"] = api_key
        command = [
            sys.executable, "-m", "prefect_agent", "agent", "local", "start",
            "--api", api, "--name", name, "--no-hostname-label",
            "--flow-run-command", EXECUTOR,
            "--state-dir", str(workdir / f"state-{name}"),
            *(arg for label in labels for arg in ("--label", label)),
            *extra,
        ]  # fmt: skip
        self._output = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=self._output, stderr=subprocess.STDOUT, env=env, cwd=workdir
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit status (the test fails if it does not stop in time)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self._output.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._output.close()


def wait_for(probe: Callable[[], bool], what: str, deadline: float = 90.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if probe():
            return
        time.sleep(0.1)  # polling a condition with a deadline
    raise AssertionError(f"timed out waiting for {what}")

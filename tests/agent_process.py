"""Our agent as its users run it: ``prefect agent <kind> start`` in a subprocess.

The suite's one agent launcher. The agent gets an isolated HOME (no user config file) and
none of the ``PREFECT__`` variables of the machine running the tests; the API key travels in
its environment only, never on the command line. Its output goes to a file in ``workdir``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar

from tests.polling import eventually

T = TypeVar("T")

EXECUTOR = f"{sys.executable} -m prefect_agent.executor"
"""A flow-run command that needs no Prefect install: our own stand-in executor."""


class AgentProcess:
    """One ``prefect agent <kind> start`` subprocess; ``text()`` is its output so far."""

    def __init__(
        self,
        kind: str,
        api_url: str,
        workdir: Path,
        *flags: str,
        labels: Sequence[str] = (),
        name: str | None = None,
        api_key: str | None = None,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
        drop: tuple[str, ...] = (),
        output: IO[bytes] | None = None,
    ) -> None:
        """``env`` is added to the agent's environment; variables starting with one of
        ``drop`` are removed from it, as the ``PREFECT__`` ones always are. The output goes
        to a new file, or to the open file ``output`` (several agents may share one)."""
        self.log = (
            Path(output.name)
            if output is not None
            else workdir / f"agent-{kind}-{name or 'cli'}-{time.monotonic_ns()}.log"
        )
        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PREFECT__", *drop))
            # the suite's own switch, not an agent setting
            and key != "PREFECT_AGENT_DOCKER_REQUIRED"
        }
        environ["HOME"] = str(home or workdir / "home")  # no ~/.prefect/config.toml of the user
        if api_key:
            environ["PREFECT__CLOUD__API_KEY"] = api_key
        environ.update(env or {})
        command = [
            sys.executable, "-m", "prefect_agent", "agent", kind, "start", "--api", api_url,
            *(("--name", name) if name else ()),
            *(arg for label in labels for arg in ("--label", label)),
            *flags,
        ]  # fmt: skip
        if output is not None:
            self.process = self._start(command, output, environ, workdir)
        else:
            with self.log.open("wb") as log:  # the child keeps its own copy of the file
                self.process = self._start(command, log, environ, workdir)

    @staticmethod
    def _start(
        command: list[str], output: IO[bytes], environ: dict[str, str], workdir: Path
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=environ, cwd=workdir
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def exited(self) -> bool:
        return self.process.poll() is not None

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit status; raises ``TimeoutExpired`` (failing the test) if
        the agent does not stop in time."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit status; killed if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def eventually(self, probe: Callable[[], T | None], what: str, deadline: float = 90.0) -> T:
        """``tests.polling.eventually`` that fails at once if the agent exits, and shows the
        agent's output when it fails."""

        def alive_probe() -> T | None:
            value = probe()
            if not value and self.exited():
                raise AssertionError(
                    f"the agent exited early ({self.process.returncode}) while waiting for "
                    f"{what}:\n{self.text()[-8000:]}"
                )
            return value

        return eventually(
            alive_probe, what, deadline, step=0.1,
            context=lambda: f"agent output:\n{self.text()[-8000:]}",
        )  # fmt: skip


def local_agent(
    api_url: str,
    labels: Sequence[str],
    workdir: Path,
    *flags: str,
    name: str = "e2e",
    api_key: str | None = None,
) -> AgentProcess:
    """``prefect agent local start`` running our stand-in executor, state kept in
    ``workdir``, no hostname label."""
    return AgentProcess(
        "local", api_url, workdir,
        "--no-hostname-label",
        "--flow-run-command", EXECUTOR,
        "--state-dir", str(workdir / f"state-{name}"),
        *flags,
        labels=labels, name=name, api_key=api_key,
    )  # fmt: skip

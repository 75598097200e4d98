"""The Platform contract against ``LocalPlatform``, with real subprocesses."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from prefect_agent.adapters.local.platform import LocalPlatform
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.ports import Platform
from tests.contract.platform_contract import PlatformContract


def processes_of_run(run_id: str) -> int:
    """How many live processes carry ``run_id`` in their environment (what really started)."""
    marker = f"PREFECT__CONTEXT__FLOW_RUN_ID={run_id}".encode()
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                variables = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in variables and state != b"Z":
            count += 1
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
class TestLocalPlatform(PlatformContract):
    @pytest.fixture(autouse=True)
    def _workspace(self, tmp_path: Path) -> Iterator[None]:
        self.tmp = tmp_path
        self.gates: list[Path] = []
        yield
        for gate in self.gates:  # release whatever a failed test left blocked
            _open_gate(gate)

    @pytest.fixture
    def platform(self, tmp_path: Path) -> Iterator[Platform]:
        platform = LocalPlatform.from_config(self.config())
        yield platform
        platform.close()

    def config(self) -> AgentConfig:
        return AgentConfig(platform=LocalSettings(state_dir=str(self.tmp / "state")))

    def exit_command(self, code: int) -> Sequence[str]:
        return (sys.executable, "-c", f"import sys; sys.exit({code})")

    def blocking_command(self, run_id: str) -> Sequence[str]:
        gate = self.tmp / f"gate-{run_id}"
        os.mkfifo(gate)
        self.gates.append(gate)
        # Blocks until release() opens the fifo for writing and closes it (then reads EOF).
        return (sys.executable, "-c", f"open({str(gate)!r}).read()")

    def release(self, platform: Platform, run_id: str) -> None:
        with open(self.tmp / f"gate-{run_id}", "w"):
            pass

    def restarted(self, platform: Platform) -> Platform:
        return LocalPlatform.from_config(self.config())

    def starts(self, platform: Platform, run_id: str) -> int:
        return processes_of_run(run_id)

    def leftovers(self, platform: Platform, run_id: str) -> int:
        return processes_of_run(run_id)


def _open_gate(fifo: Path) -> None:
    """Opening and closing the write end lets a blocked reader see EOF (no reader: no-op)."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

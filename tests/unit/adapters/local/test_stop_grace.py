"""``--stop-grace-seconds`` decides how long a stopped run that ignores SIGTERM lives on."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import attrs

from prefect_agent.adapters.config.flag_source import FlagSource
from prefect_agent.adapters.config.resolution import resolve
from prefect_agent.adapters.local.platform import LocalPlatform
from prefect_agent.adapters.local.run_records import RunRecords
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.run_config import LocalRun
from tests.polling import eventually
from tests.unit.adapters.local.conftest import new_run

PY = sys.executable


def platform_from_flag(grace: str, state: Path) -> LocalPlatform:
    """A platform built as ``prefect agent local start --stop-grace-seconds <grace>`` would."""
    flags = FlagSource(
        PlatformKind.LOCAL,
        {"agent.local.stop_grace_seconds": grace, "agent.local.state_dir": str(state)},
    )
    return LocalPlatform.from_config(resolve(PlatformKind.LOCAL, [flags]).config)


def test_the_flag_sets_the_time_between_sigterm_and_sigkill(tmp_path: Path) -> None:
    short = platform_from_flag("0.2", tmp_path / "short")
    long = platform_from_flag("600", tmp_path / "long")
    ready = [tmp_path / "ready-short", tmp_path / "ready-long"]
    runs = [new_run(run_config=LocalRun()), new_run(run_config=LocalRun())]
    try:
        for platform, run, marker in zip((short, long), runs, ready, strict=True):
            script = (
                "import signal, time, pathlib\n"
                "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                f"pathlib.Path({str(marker)!r}).touch()\n"
                "while True: time.sleep(1)\n"
            )
            config = attrs.evolve(
                resolve(PlatformKind.LOCAL, []).config, flow_run_command=(PY, "-c", script)
            )
            platform.launch(run, build_launch_spec(run, config, tenant_id=None))
        eventually(lambda: all(m.exists() for m in ready), "both runs to ignore SIGTERM")
        assert "SIGKILL after 0.2 s" in short.stop(runs[0].id)
        assert "SIGKILL after 600 s" in long.stop(runs[1].id)
        ended = eventually(lambda: next(iter(short.outcomes()), None), "the short grace's end")
        assert ended.exit_code == -signal.SIGKILL
        # The same stop with a long grace period leaves the run alone that much longer.
        assert long.outcomes() == []
        assert long.stop(runs[1].id)  # still there to be stopped
    finally:
        short.close()
        long.close()
        record = RunRecords(tmp_path / "long").read(runs[1].id)
        if record is not None:  # the test's own clean-up of what it started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(record.process.pid, signal.SIGKILL)

"""Local runs under hostile output and a full disk: output kept within its cap (tail kept),
and no claims while the state directory has no space."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_agent.adapters.local.output_cap import cap_output, stored_bytes
from prefect_agent.adapters.local.platform import LocalPlatform
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import PlatformUnavailable
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.services.agent import AgentService
from prefect_agent.testing import FakeClock, InMemoryRunSource
from prefect_agent.testing.executor import InlineExecutor
from tests.unit.adapters.local.conftest import Harness, eventually, new_run

PY = sys.executable
CAP = 256 * 1024
FLOOD = (
    "import sys\n"
    "for i in range(400000): sys.stdout.write(f'line {i:07d} ' + 'x' * 40 + '\\n')\n"
    "sys.stdout.write('the last words\\n'); sys.stdout.flush(); sys.exit(3)\n"
)


def test_a_flooding_run_keeps_only_the_tail_of_its_output(tmp_path: Path) -> None:
    state = tmp_path / "state"
    platform = LocalPlatform(state_dir=state, output_max_bytes=CAP, output=io.StringIO())
    harness = Harness(platform=platform, config=AgentConfig(), output=io.StringIO(), tmp=tmp_path)
    try:
        # The run writes ~20 MB; it lives long enough for the agent's checks to apply the cap.
        run = new_run()
        script = FLOOD.replace("sys.exit(3)", "import time; time.sleep(2.5); sys.exit(3)")
        platform.launch(run, harness.spec(run, [PY, "-c", script]))
        path = platform.state_dir / f"{run.id}.out"
        eventually(lambda: path.exists() and os.stat(path).st_size > 20_000_000, "the flood")
        eventually(lambda: stored_bytes(path) <= CAP, "the cap applied")
        outcome = harness.outcome(run.id)
        assert not outcome.succeeded and outcome.exit_code == 3
        assert outcome.details[-1] == "the last words"
        assert outcome.details[-2].startswith("line 0399999")
    finally:
        platform.close()


def test_cap_output_without_hole_punching_still_keeps_the_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_agent.adapters.local import output_cap

    monkeypatch.setattr(output_cap, "_fallocate", None)
    path = tmp_path / "run.out"
    with open(path, "ab") as handle:
        for i in range(100_000):
            handle.write(f"line {i}\n".encode())
        assert cap_output(path, 64 * 1024)
        handle.write(b"after the cut\n")
    data = path.read_bytes()
    assert len(data) < 64 * 1024
    assert data.endswith(b"line 99999\nafter the cut\n")


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 2 MiB tmpfs with 64 inodes: a disk that really fills (root and mount rights needed)."""
    mount = Path(f"/tmp/prefect-agent-small-disk-{uuid.uuid4().hex[:8]}")
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,nr_inodes=64", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)  # a run may still exit
        mount.rmdir()


def test_a_full_disk_leaves_runs_scheduled_until_space_returns(small_disk: Path) -> None:
    state = small_disk / "state"
    config = AgentConfig(
        platform=LocalSettings(state_dir=str(state)), flow_run_command=(PY, "-c", "pass")
    )
    platform = LocalPlatform(state_dir=state)
    clock = FakeClock()
    source = InMemoryRunSource(clock=clock)
    agent = AgentService(
        config=config, source=source, platform=platform, clock=clock, executor=InlineExecutor()
    )
    agent.register()
    filler = small_disk / "filler"
    # Unbuffered: nothing is left to flush (and fail) when the file is closed.
    with open(filler, "wb", buffering=0) as handle, pytest.raises(OSError, match="No space left"):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    try:
        with pytest.raises(PlatformUnavailable, match="out of space"):
            platform.check()
        run_id = source.add_run()
        for _ in range(3):
            agent.step()
            clock.advance(10)
        assert source.state_of(run_id) == "Scheduled"
        assert source.submissions(run_id) == 0
        filler.unlink()
        platform.check()

        def launched() -> bool:
            agent.step()
            clock.advance(1)
            return source.state_of(run_id) != "Scheduled"

        eventually(launched, "the run launched once space returned")
        assert source.submissions(run_id) == 1
    finally:
        agent.shutdown()


def test_running_out_of_inodes_counts_as_a_full_disk(small_disk: Path) -> None:
    platform = LocalPlatform(state_dir=small_disk / "state")
    try:
        platform.check()
        with pytest.raises(OSError, match="No space left"):
            for i in range(1000):
                (small_disk / f"f{i}").touch()
        with pytest.raises(PlatformUnavailable, match="0 inodes free"):
            platform.check()
    finally:
        platform.close()

"""Restarts: a new platform finds the runs an earlier agent process left running."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_agent.adapters.local.platform import LocalPlatform
from prefect_agent.adapters.local.process_identity import ProcessIdentity, start_ticks
from prefect_agent.adapters.local.run_records import RunRecord, RunRecords
from tests.unit.adapters.local.conftest import eventually, new_run

PY = sys.executable


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def platform(state: Path) -> Iterator[LocalPlatform]:
    platform = LocalPlatform(state_dir=state)
    yield platform
    platform.close()


def start_foreign_process(gate: Path) -> int:
    """A process blocked on ``gate`` whose parent is not this test (as after a restart)."""
    os.mkfifo(gate)
    blocked = f"open({str(gate)!r}).read()"
    launcher = (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, '-c', {blocked!r}], start_new_session=True,"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(p.pid)\n"
    )
    pid = int(subprocess.run([PY, "-c", launcher], capture_output=True, check=True).stdout)
    eventually(lambda: start_ticks(pid) is not None, "the foreign process")
    return pid


def test_a_run_started_by_an_earlier_agent_is_adopted_and_its_end_reported(
    platform: LocalPlatform, state: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    pid = start_foreign_process(gate)
    RunRecords(state).write(
        RunRecord(run_id="run-a", run_name="earlier", process=ProcessIdentity.of(pid))
    )
    assert list(platform.adopt()) == ["run-a"]
    again = platform.launch(new_run(id="run-a"), _unused_spec())
    assert again.info == f"PID: {pid} (already running)"  # not started a second time
    with open(gate, "w"):
        pass
    outcome = eventually(lambda: next(iter(platform.outcomes()), None), "the outcome")
    assert outcome.run_id == "run-a"
    assert outcome.exit_code is None  # not our child any more: its code cannot be known
    assert not outcome.succeeded
    assert "unknown" in outcome.reason
    # The verdict is kept until the agent says the API has it.
    assert RunRecords(state).read_verdict("run-a") is not None
    platform.acknowledge("run-a")
    assert RunRecords(state).read("run-a") is None
    assert RunRecords(state).read_verdict("run-a") is None


def test_a_run_that_ended_while_no_agent_watched_is_reported_once(
    platform: LocalPlatform, state: Path
) -> None:
    finished = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True)
    pid = int(finished.stdout)
    records = RunRecords(state)
    records.write(RunRecord(run_id="run-b", run_name="gone", process=ProcessIdentity.of(pid)))
    records.output_path("run-b").write_text("Traceback\nBoom: it broke\n")
    assert list(platform.adopt()) == ["run-b"]
    (outcome,) = platform.outcomes()
    assert outcome.run_id == "run-b" and not outcome.succeeded
    assert outcome.details == ("Traceback", "Boom: it broke")
    assert list(platform.adopt()) == []
    assert platform.outcomes() == []


def test_a_reused_pid_is_not_mistaken_for_the_run(platform: LocalPlatform, state: Path) -> None:
    me = ProcessIdentity.of(os.getpid())
    impostor = ProcessIdentity(pid=me.pid, started=(me.started or 0) + 1, boot=me.boot)
    assert not impostor.is_running()
    RunRecords(state).write(RunRecord(run_id="run-c", run_name="c", process=impostor))
    platform.adopt()
    (outcome,) = platform.outcomes()
    assert outcome.run_id == "run-c" and outcome.exit_code is None


def test_a_record_from_an_earlier_boot_names_no_process(platform: LocalPlatform) -> None:
    me = ProcessIdentity.of(os.getpid())
    assert not ProcessIdentity(pid=me.pid, started=me.started, boot="another-boot").is_running()
    assert me.is_running()


def test_launching_a_run_a_previous_agent_left_running_adopts_it(
    state: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    pid = start_foreign_process(gate)
    RunRecords(state).write(
        RunRecord(run_id="run-d", run_name="d", process=ProcessIdentity.of(pid))
    )
    platform = LocalPlatform(state_dir=state)  # adopt() never called
    try:
        launched = platform.launch(new_run(id="run-d"), _unused_spec())
        assert launched.info == f"PID: {pid} (already running)"
    finally:
        with open(gate, "w"):
            pass
        platform.close()


def _unused_spec():  # type: ignore[no-untyped-def]
    """A spec whose command would fail loudly if it were ever started."""
    from prefect_agent.domain.agent_config import AgentConfig
    from prefect_agent.domain.launch_spec import build_launch_spec

    config = AgentConfig(flow_run_command=("/must/not/start",))
    return build_launch_spec(new_run(), config, tenant_id=None)

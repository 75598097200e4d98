"""LocalPlatform with real subprocesses: environment, working directory, failures, stops."""

from __future__ import annotations

import json
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from prefect_agent.adapters.local.platform import LocalPlatform, default_state_dir
from prefect_agent.domain.errors import LaunchError
from prefect_agent.domain.run_config import LocalRun
from prefect_agent.domain.secret import Secret
from tests.unit.adapters.local.conftest import Harness, eventually, new_run

PY = sys.executable
DUMP = "import json, os, sys; json.dump({'env': dict(os.environ), 'argv': sys.argv, 'cwd': os.getcwd()}, open(sys.argv[1], 'w'))"  # noqa: E501


def test_the_run_gets_the_environment_of_spec_7_1_over_the_agents_own(
    harness: Harness, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    run = new_run(
        run_config=LocalRun(env={"RC_VAR": "y", "AGENT_VAR": "from-run"}, working_dir=str(workdir))
    )
    dump = tmp_path / "dump.json"
    spec = harness.spec(
        run,
        [PY, "-c", DUMP, str(dump)],
        api_key=Secret("sekrit-key"),
        api="http://127.0.0.1:4200",
    )
    harness.platform.launch(run, spec)
    assert harness.outcome(run.id).succeeded
    seen = json.loads(dump.read_text())
    env = seen["env"]
    assert env["PYTHONPATH"] == os.pathsep.join([str(workdir), "/agent/path", "/opt/lib"])
    assert env["HOME"] == "/root"  # the agent's environment is the base
    assert env["AGENT_VAR"] == "from-run"  # run config env beats the agent's --env
    assert env["RC_VAR"] == "y"
    assert env["PREFECT__CONTEXT__FLOW_RUN_ID"] == run.id
    assert env["PREFECT__CLOUD__API"] == "http://127.0.0.1:4200"
    assert env["PREFECT__CLOUD__AGENT__LABELS"] == "['dev']"
    assert env["PREFECT__CLOUD__API_KEY"] == "sekrit-key"  # the key travels in the environment
    assert not any("sekrit" in arg for arg in seen["argv"])  # and never in argv
    assert seen["cwd"] == str(workdir)
    assert not any(
        "sekrit" in p.read_text(errors="replace")
        for p in harness.platform.state_dir.iterdir()
        if p.is_file()
    )


def test_without_a_working_dir_the_agents_directory_leads_pythonpath(
    harness: Harness, tmp_path: Path
) -> None:
    run = new_run()
    dump = tmp_path / "dump.json"
    harness.platform.launch(run, harness.spec(run, [PY, "-c", DUMP, str(dump)]))
    assert harness.outcome(run.id).succeeded
    env = json.loads(dump.read_text())["env"]
    assert env["PYTHONPATH"].split(os.pathsep)[0] == os.getcwd()
    assert "PREFECT__CLOUD__API_KEY" not in env  # the local agent omits an unset key


def run_files(state_dir: Path) -> list[Path]:
    """What the platform keeps per run (the agent's ``claimant`` file aside)."""
    return [path for path in state_dir.iterdir() if path.name != "claimant"]


def test_a_missing_working_dir_fails_the_launch_with_the_directory(
    harness: Harness, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    run = new_run(run_config=LocalRun(working_dir=str(missing)))
    with pytest.raises(LaunchError) as caught:
        harness.platform.launch(run, harness.spec(run, [PY, "-c", "pass"]))
    assert str(missing) in caught.value.reason
    assert run.id in caught.value.reason
    assert run_files(harness.platform.state_dir) == []


def test_a_command_that_does_not_exist_fails_the_launch(harness: Harness) -> None:
    run = new_run()
    with pytest.raises(LaunchError) as caught:
        harness.platform.launch(run, harness.spec(run, ["/no/such/program", "x"]))
    assert "/no/such/program" in caught.value.reason
    assert run_files(harness.platform.state_dir) == []


def test_a_failed_run_reports_its_code_and_last_output_lines(harness: Harness) -> None:
    run = new_run()
    script = "import sys\nfor i in range(30): print('line', i)\nsys.exit(4)"
    harness.platform.launch(run, harness.spec(run, [PY, "-c", script]))
    outcome = harness.outcome(run.id)
    assert not outcome.succeeded
    assert outcome.exit_code == 4
    assert "exited with code 4" in outcome.reason
    assert outcome.details[-1] == "line 29"
    assert len(outcome.details) == 20
    # Record, output and verdict stay until the agent acknowledges the outcome.
    assert len(run_files(harness.platform.state_dir)) == 3
    harness.platform.acknowledge(run.id)
    assert run_files(harness.platform.state_dir) == []


def test_a_run_killed_by_a_signal_names_the_signal(harness: Harness) -> None:
    run = new_run()
    script = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    harness.platform.launch(run, harness.spec(run, [PY, "-c", script]))
    outcome = harness.outcome(run.id)
    assert outcome.exit_code == -signal.SIGKILL
    assert "SIGKILL" in outcome.reason


def test_children_are_reaped_as_soon_as_they_exit(harness: Harness) -> None:
    run = new_run()
    launched = harness.platform.launch(run, harness.spec(run, [PY, "-c", "pass"]))
    harness.outcome(run.id)
    pid = int(launched.info.removeprefix("PID: "))
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind
    assert not Path(f"/proc/{pid}").exists()


def test_show_flow_logs_prefixes_each_line_with_the_run_name(harness: Harness) -> None:
    run = new_run(name="nice-otter")
    script = "import sys; print('first'); print('second', flush=True); sys.stdout.write('tail')"
    harness.platform.launch(run, harness.spec(run, [PY, "-c", script]))
    harness.outcome(run.id)
    lines = harness.output.getvalue().splitlines()
    assert lines == ["[nice-otter] first", "[nice-otter] second", "[nice-otter] tail"]


def test_show_flow_logs_streams_while_the_run_is_still_running(
    harness: Harness, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    run = new_run(name="streamer")
    script = f"print('hello', flush=True); open({str(gate)!r}).read()"
    harness.platform.launch(run, harness.spec(run, [PY, "-c", script]))
    eventually(lambda: "[streamer] hello" in harness.output.getvalue(), "the streamed line")
    with open(gate, "w"):
        pass
    assert harness.outcome(run.id).succeeded


def test_stop_terminates_and_then_kills_a_run_that_ignores_sigterm(
    harness: Harness, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    script = (
        "import signal, time, pathlib\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "while True: time.sleep(1)\n"
    )
    run = new_run()
    harness.platform.launch(run, harness.spec(run, [PY, "-c", script]))
    eventually(ready.exists, "the child to ignore SIGTERM")
    harness.platform.stop(run.id)
    outcome = harness.outcome(run.id)
    assert outcome.exit_code == -signal.SIGKILL


def test_stop_ends_a_cooperative_run_with_sigterm(harness: Harness, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    run = new_run()
    harness.platform.launch(run, harness.spec(run, [PY, "-c", f"open({str(gate)!r}).read()"]))
    harness.platform.stop(run.id)
    assert harness.outcome(run.id).exit_code == -signal.SIGTERM


def test_the_default_state_dir_is_per_agent_and_filesystem_safe() -> None:
    first = default_state_dir("my agent/../x")
    assert first.parent == Path("~/.prefect/agents/local").expanduser()
    assert "/" not in first.name and first.name not in ("..", ".")
    assert default_state_dir("a") != default_state_dir("b")


def test_the_default_command_runs_prefect_with_the_agents_python(tmp_path: Path) -> None:
    platform = LocalPlatform(state_dir=tmp_path, python="/opt/py/bin/python")
    try:
        assert list(platform.default_command_prefix) == ["/opt/py/bin/python", "-m"]
    finally:
        platform.close()


def test_a_run_whose_record_cannot_be_written_still_runs_and_is_watched(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    run = new_run()
    # A directory where the record's temporary file must go makes writing it fail.
    (harness.platform.state_dir / f"{run.id}.json.tmp").mkdir(parents=True)
    harness.platform.launch(run, harness.spec(run, [PY, "-c", "import sys; sys.exit(2)"]))
    assert harness.outcome(run.id).exit_code == 2
    assert "a restarted agent will not find it" in caplog.text


def test_concurrent_launches_of_one_run_start_it_once(harness: Harness, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    run = new_run()
    spec = harness.spec(run, [PY, "-c", f"open({str(gate)!r}).read()"])
    with ThreadPoolExecutor(8) as pool:
        launched = list(pool.map(lambda _: harness.platform.launch(run, spec), range(8)))
    assert len({item.info.split()[1] for item in launched}) == 1  # one PID
    assert sum("already running" in item.info for item in launched) == 7
    with open(gate, "w"):
        pass
    assert harness.outcome(run.id).succeeded


def test_show_flow_logs_cuts_progress_bars_at_carriage_returns(harness: Harness) -> None:
    # 2 MB of \r-redrawn progress and no newline: shown as lines, never held whole in memory.
    script = (
        "import sys, time\n"
        "for i in range(20000): sys.stdout.write(f'\\rprogress {i:05d} ' + '#' * 80)\n"
        "sys.stdout.flush(); time.sleep(0.5)\n"
    )
    run = new_run(name="bar")
    harness.platform.launch(run, harness.spec(run, [PY, "-c", script]))
    assert harness.outcome(run.id).succeeded
    lines = harness.output.getvalue().splitlines()
    bars = [line for line in lines if line.startswith("[bar] progress")]
    assert len(bars) == 20000 and bars[-1].startswith("[bar] progress 19999")

"""End to end: the embedded API over HTTP, the real CLI agent, real flow-run processes."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from prefect_agent.server.testing import RunningServer
from tests.agent_process import local_agent
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AGENT_LABELS = ["e2e", "team-a"]
FINISHED = {"Success", "Failed", "Cancelled"}
EXECUTION_LOG = "Example executor running flow run"


def executions(api: RunningServer, run_id: str) -> int:
    return sum(EXECUTION_LOG in log["message"] for log in api.logs(run_id))


def error_text(api: RunningServer, run_id: str) -> str:
    return "\n".join(log["message"] for log in api.logs(run_id) if log["level"] == "ERROR")


def test_fifty_mixed_runs_each_matching_one_executed_once(
    api: RunningServer, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    fast: dict[str, Any] = {"seconds": 0}
    run_configs: list[dict[str, Any] | None] = [
        None,
        {"type": "UniversalRun", "env": {"FROM_RUN": "1"}, "labels": []},
        {"type": "LocalRun", "env": {"FROM_RUN": "2"}, "labels": [], "working_dir": None},
        {"type": "LocalRun", "env": None, "labels": [], "working_dir": str(workdir)},
    ]
    matching_labels = [["e2e"], ["team-a"], ["e2e", "team-a"]]
    succeed: list[str] = []
    for index in range(40):
        succeed.append(
            api.create_run(
                labels=matching_labels[index % 3],
                run_config=run_configs[index % 4],
                parameters=fast,
                name=f"ok-{index}",
            )
        )
    untouched = [
        api.create_run(labels=labels, parameters=fast, name=f"other-{i}")
        for i, labels in enumerate([["other"], ["e2e", "gpu"], [], ["team-b"], ["E2E"]])
    ]
    crashing = api.create_run(labels=["e2e"], parameters={"exit_code": 3}, name="crash")
    failing = api.create_run(labels=["e2e"], parameters={"fail": True}, name="self-failing")
    missing_dir = str(tmp_path / "no-such-dir")
    bad_dir = api.create_run(
        labels=["e2e"],
        run_config={"type": "LocalRun", "labels": [], "working_dir": missing_dir},
        name="bad-dir",
    )
    docker = api.create_run(
        labels=["team-a"],
        run_config={"type": "DockerRun", "labels": [], "image": "x"},
        name="docker-run",
    )
    due = datetime.now(timezone.utc) + timedelta(seconds=2)
    not_yet = api.create_run(labels=["e2e"], parameters=fast, name="later", start_time=due)
    assert len(succeed) + len(untouched) + 5 == 50

    agent = local_agent(api.url, AGENT_LABELS, tmp_path, api_key=api.api_key)
    try:
        ended = [*succeed, crashing, failing, bad_dir, docker, not_yet]
        agent.eventually(
            lambda: all(api.state_of(run_id) in FINISHED for run_id in ended),
            "every matching run to finish",
        )
    except BaseException:
        agent.kill()
        print(agent.text())
        raise
    status = agent.terminate()
    output = agent.text()
    assert status == 0, output
    assert "SIGTERM received" in output

    for run_id in [*succeed, not_yet]:
        assert api.history(run_id) == ["Scheduled", "Submitted", "Running", "Success"]
        assert executions(api, run_id) == 1
    for run_id in untouched:
        assert api.history(run_id) == ["Scheduled"], api.run(run_id)
        assert api.logs(run_id) == []

    assert api.history(crashing) == ["Scheduled", "Submitted", "Running", "Failed"]
    assert "exited with code 3" in error_text(api, crashing)
    assert "crashing with exit code 3" in error_text(api, crashing)  # the output's last lines

    # The executor failed its own run: the agent saw a finished run and left it alone.
    assert api.history(failing) == ["Scheduled", "Submitted", "Running", "Failed"]
    assert "exited with code" not in error_text(api, failing)

    assert api.history(bad_dir) == ["Scheduled", "Submitted", "Failed"]
    assert missing_dir in error_text(api, bad_dir)
    assert api.history(docker) == ["Scheduled", "Submitted", "Failed"]
    assert "DockerRun" in error_text(api, docker)

    assert not list((tmp_path / "state-e2e").glob("*.json"))  # every record cleaned up


def test_a_restarted_agent_adopts_a_running_run_without_starting_it_again(
    api: RunningServer, tmp_path: Path
) -> None:
    slow = api.create_run(labels=["e2e"], parameters={"seconds": 3}, name="slow")
    first = local_agent(api.url, ["e2e"], tmp_path, api_key=api.api_key)
    try:
        first.eventually(lambda: api.state_of(slow) == "Running", "the slow run to start")
    finally:
        assert first.terminate() == 0
    assert api.state_of(slow) == "Running"  # the child outlived its agent
    second = local_agent(api.url, ["e2e"], tmp_path, api_key=api.api_key)
    try:
        second.eventually(lambda: api.state_of(slow) in FINISHED, "the slow run to finish")
    finally:
        assert second.terminate() == 0
    assert api.history(slow) == ["Scheduled", "Submitted", "Running", "Success"]
    assert executions(api, slow) == 1
    assert "launched before this agent started" in second.text()


def test_a_run_that_crashed_while_no_agent_ran_is_failed_by_the_next_one(
    api: RunningServer, tmp_path: Path
) -> None:
    crash = api.create_run(labels=["e2e"], parameters={"seconds": 1, "exit_code": 5})
    first = local_agent(api.url, ["e2e"], tmp_path, api_key=api.api_key)
    try:
        first.eventually(lambda: api.state_of(crash) == "Running", "the run to start")
    finally:
        assert first.terminate() == 0
    state_dir = tmp_path / "state-e2e"
    record = next(state_dir.glob("*.json"))
    pid = int(__import__("json").loads(record.read_text())["pid"])
    eventually(lambda: not os.path.exists(f"/proc/{pid}") or _is_zombie(pid), "the run to crash")
    second = local_agent(api.url, ["e2e"], tmp_path, api_key=api.api_key)
    try:
        second.eventually(lambda: api.state_of(crash) == "Failed", "the next agent to fail the run")
    finally:
        assert second.terminate() == 0
    assert "exit code is unknown" in error_text(api, crash)
    assert "crashing with exit code 5" in error_text(api, crash)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True

"""The example executor against the embedded API over real HTTP."""

from __future__ import annotations

import pytest

from prefect_agent.executor.__main__ import EXIT_UNUSABLE, main
from prefect_agent.server.testing import RunningServer


def environ(api: RunningServer, run_id: str) -> dict[str, str]:
    return {"PREFECT__CONTEXT__FLOW_RUN_ID": run_id, **api.agent_env}


def test_a_run_goes_running_then_success_with_log_lines(api: RunningServer) -> None:
    run_id = api.create_run(labels=["x"], parameters={"seconds": 0})
    assert main(environ(api, run_id)) == 0
    assert api.history(run_id) == ["Scheduled", "Running", "Success"]
    messages = [log["message"] for log in api.logs(run_id)]
    assert any("not Prefect core" in message for message in messages)
    assert messages[-1] == "Example flow run finished successfully"


def test_fail_sets_failed_and_exits_non_zero(api: RunningServer) -> None:
    run_id = api.create_run(parameters={"fail": True, "message": "nope"})
    assert main(environ(api, run_id)) == 1
    assert api.history(run_id) == ["Scheduled", "Running", "Failed"]
    assert ("ERROR", "nope") in [(log["level"], log["message"]) for log in api.logs(run_id)]


def test_exit_code_crashes_without_a_final_state(api: RunningServer) -> None:
    run_id = api.create_run(parameters={"exit_code": 7})
    assert main(environ(api, run_id)) == 7
    assert api.history(run_id) == ["Scheduled", "Running"]


def test_an_unknown_run_fails_with_a_message(
    api: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert main(environ(api, missing)) == 1
    assert missing in capsys.readouterr().err


def test_an_unreachable_api_fails_with_its_address(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"PREFECT__CONTEXT__FLOW_RUN_ID": "r", "PREFECT__CLOUD__API": "http://127.0.0.1:9"}
    assert main(env) == 1
    assert "http://127.0.0.1:9" in capsys.readouterr().err


def test_without_its_environment_it_says_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main({"PREFECT__CLOUD__API": "http://x"}) == EXIT_UNUSABLE
    err = capsys.readouterr().err
    assert "PREFECT__CONTEXT__FLOW_RUN_ID" in err
    assert "started by an agent" in err

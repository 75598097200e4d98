"""Reading an ended container's inspect data into an outcome."""

from __future__ import annotations

from prefect_agent.adapters.docker.container_identity import container_name
from prefect_agent.adapters.docker.container_outcome import (
    ended_outcome,
    killed_without_oom_flag,
    vanished_outcome,
)
from prefect_agent.adapters.docker.log_streaming import split_lines


def test_exit_zero_succeeds() -> None:
    outcome = ended_outcome("r", "c", {"State": {"Status": "exited", "ExitCode": 0}}, ["x"])
    assert outcome.succeeded and outcome.exit_code == 0 and outcome.details == ()


def test_a_non_zero_exit_fails_with_the_code_the_engine_error_and_the_lines() -> None:
    inspect = {"State": {"Status": "exited", "ExitCode": 3, "Error": "boom"}}
    outcome = ended_outcome("r", "c", inspect, ["a", "b"])
    assert not outcome.succeeded
    assert outcome.reason == "Container c exited with code 3: boom"
    assert outcome.details == ("a", "b")


def test_oom_killed_names_the_limit() -> None:
    inspect = {
        "State": {"Status": "exited", "ExitCode": 137, "OOMKilled": True},
        "HostConfig": {"Memory": 8 * 2**20},
    }
    outcome = ended_outcome("r", "c", inspect, [])
    assert outcome.reason == (
        "Container c was killed for running out of memory (OOMKilled) "
        "(memory limit 8 MiB), exit code 137"
    )


def test_vanished() -> None:
    outcome = vanished_outcome("r", "c")
    assert not outcome.succeeded and outcome.exit_code is None
    assert "disappeared" in outcome.reason


def test_names_keep_only_characters_the_engine_allows() -> None:
    assert container_name("9f1c-ab") == "prefect-9f1c-ab"
    assert container_name("a b/c") == "prefect-a-b-c"


def test_split_lines_rejoins_chunks() -> None:
    chunks = [b"one\ntw", b"o\r\n", b"", b"thr\xc3", b"\xa9e"]
    assert list(split_lines(chunks)) == ["one", "two", "thrée"]


def test_a_sigkill_without_the_oom_flag_may_still_become_an_oom_kill() -> None:
    assert killed_without_oom_flag({"State": {"ExitCode": 137}})
    assert not killed_without_oom_flag({"State": {"ExitCode": 137, "OOMKilled": True}})
    assert not killed_without_oom_flag({"State": {"ExitCode": 3}})

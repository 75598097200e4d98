"""``prefect demo``'s Prefect 1.4.1 mode: finding Prefect, and the task-run view."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from prefect_agent.cli.demo_prefect1 import (
    Prefect1Unavailable,
    TaskRunView,
    check_python,
    client_environment,
    flow_run_command,
)


class _Api:
    """Answers the view's one query with the rows the test sets."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        assert "task_run(where: {flow_run_id: {_in: $ids}})" in query
        return {"task_run": [r for r in self.rows if r["flow_run_id"] in variables["ids"]]}


def _row(run: str, task: str, index: int, state: str) -> dict[str, Any]:
    return {"flow_run_id": run, "map_index": index, "state": state, "task": {"name": task}}


def test_the_view_reports_each_task_runs_changes_once_with_map_indexes() -> None:
    api, view = _Api(), TaskRunView()
    api.rows = [_row("r1", "square", -1, "Pending"), _row("r1", "square", 0, "Running")]
    assert view.changes(api, ["r1"]) == [
        ("r1", "square", None, "Pending"),
        ("r1", "square[0]", None, "Running"),
    ]
    assert view.changes(api, ["r1"]) == []  # nothing changed since
    api.rows[1]["state"] = "Success"
    assert view.changes(api, ["r1"]) == [("r1", "square[0]", "Running", "Success")]
    assert view.changes(api, []) == []


def test_a_python_without_prefect_is_refused_with_the_reason() -> None:
    with pytest.raises(Prefect1Unavailable, match=r"has no Prefect 1\.x"):
        check_python(sys.executable)  # the project's own venv has no Prefect core
    with pytest.raises(Prefect1Unavailable, match="cannot run /no/such/python"):
        check_python("/no/such/python")


def test_flows_run_with_prefects_default_command_by_the_given_python() -> None:
    assert flow_run_command("/p1/bin/python") == (
        "/p1/bin/python", "-m", "prefect", "execute", "flow-run",
    )  # fmt: skip


def test_the_client_environment_points_prefect_at_the_api_and_keeps_the_key_out_of_argv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREFECT__CLOUD__API", "https://api.prefect.io")  # the user's, ignored
    env = client_environment("http://127.0.0.1:4200", "/tmp/demo-home", "k-123")
    assert env["PREFECT__CLOUD__API"] == env["PREFECT__SERVER__ENDPOINT"] == "http://127.0.0.1:4200"
    assert env["PREFECT__BACKEND"] == "server"
    assert env["PREFECT__CLOUD__API_KEY"] == "k-123"
    assert env["HOME"] == "/tmp/demo-home"
    assert "PREFECT__CLOUD__API_KEY" not in client_environment("http://x:1", "/h", None)

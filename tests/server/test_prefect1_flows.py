"""Prefect 1.4.1 registers flows against the embedded API and runs them to their end states
with ``python -m prefect execute flow-run`` (as the agents start them), no agent involved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_agent.server.testing import RunningServer, running_server
from tests.prefect1.venv import Prefect1
from tests.server.prefect1_client import Prefect1Client


@pytest.fixture
def api() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def client(prefect1: Prefect1, api: RunningServer, tmp_path: Path) -> Prefect1Client:
    return Prefect1Client(prefect1, api, tmp_path)


HELLO = """
    import prefect
    from prefect import Flow, Parameter, task

    @task
    def greet(name):
        prefect.context.get("logger").info("Hello, %s!", name)
        return name

    @task
    def double(x):
        return 2 * x

    with Flow("hello", storage=STORAGE) as flow:
        name = Parameter("name", default="world")
        greet(name)
        double.map([1, 2, 3])
"""


def test_a_registered_flow_runs_to_success_with_parameters_and_mapped_tasks(
    client: Prefect1Client, api: RunningServer
) -> None:
    flow_id = client.register(client.write_flow("hello", HELLO))
    run_id = client.create_flow_run(flow_id, parameters={"name": "embedded"})

    done = client.execute(run_id)

    assert done.returncode == 0, done.stderr[-3000:]
    assert api.state_of(run_id) == "Success"
    assert api.history(run_id)[:1] == ["Scheduled"]
    assert "Running" in api.history(run_id)
    states = client.task_states(run_id)
    assert states[("greet", -1)] == "Success"
    assert states[("double", -1)] == "Mapped"
    assert [states[("double", i)] for i in range(3)] == ["Success"] * 3
    messages = [log["message"] for log in api.logs(run_id)]
    assert "Hello, embedded!" in messages
    assert any("Flow run SUCCESS" in m for m in messages)

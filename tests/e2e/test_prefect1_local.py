"""Prefect 1.4.1 flows, registered by Prefect 1.4.1 itself against the embedded API, run by
our local agent with Prefect's default ``python -m prefect execute flow-run`` (the Python of
the Prefect 1.4.1 venv, named with ``--flow-run-command``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import LOCAL_LABEL
from tests.e2e.prefect1_harness import (
    FLOWS,
    MAPPED_FLOW,
    RETRY_FLOW,
    World,
    describe,
    log_text,
    task_runs,
)
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOCAL_RUN = {"type": "LocalRun"}


def states_by_task(world: World, run_id: str) -> dict[tuple[str, int], str]:
    return {(t["task"]["name"], t["map_index"]): t["state"] for t in task_runs(world.api, run_id)}


def test_parameters_and_mapped_tasks_end_in_success(local_world: World) -> None:
    world = local_world
    _, (hello,) = world.client.register(
        FLOWS / "hello_params.py", labels=[LOCAL_LABEL], run_config=LOCAL_RUN,
        runs=[{"parameters": {"name": "e2e"}}],
    )  # fmt: skip
    _, (mapped,) = world.client.register(
        MAPPED_FLOW, labels=[LOCAL_LABEL], run_config=LOCAL_RUN,
        runs=[{"parameters": {"count": 4}}],
    )  # fmt: skip
    world.wait([hello, mapped])
    for run_id in (hello, mapped):
        world.expect(run_id, "Success")
        history = world.api.history(run_id)
        assert history[:2] == ["Scheduled", "Submitted"] and "Running" in history, history
    world.logs_with(hello, "Hello, e2e!")
    world.logs_with(mapped, "Sum of 4 squares: 30")
    tasks = states_by_task(world, mapped)
    assert {key for key in tasks if key[0] == "square"} == {("square", i) for i in (-1, 0, 1, 2, 3)}
    assert tasks[("square", -1)] == "Mapped", describe(world.api, mapped)
    assert all(tasks[("square", i)] == "Success" for i in range(4)), tasks
    assert tasks[("numbers", -1)] == tasks[("report", -1)] == "Success", tasks


def test_a_failing_task_fails_the_run_with_its_error_in_the_logs(local_world: World) -> None:
    world = local_world
    _, (run_id,) = world.client.register(
        FLOWS / "failing.py", labels=[LOCAL_LABEL], run_config=LOCAL_RUN, runs=[{}]
    )
    world.wait([run_id])
    world.expect(run_id, "Failed")
    world.logs_with(run_id, "boom: the e2e task failed on purpose")
    errors = "\n".join(
        log["message"] for log in world.api.logs(run_id) if log["level"] in ("ERROR", "CRITICAL")
    )
    assert "boom: the e2e task failed on purpose" in errors, describe(world.api, run_id)
    assert states_by_task(world, run_id)[("explode", -1)] == "Failed"


def test_a_retry_due_within_ten_minutes_runs_in_the_same_flow_process(
    local_world: World,
) -> None:
    world = local_world
    _, (run_id,) = world.client.register(
        RETRY_FLOW, labels=[LOCAL_LABEL], run_config=LOCAL_RUN, runs=[{}]
    )
    world.wait([run_id])
    world.expect(run_id, "Success")
    logs = world.logs_with(run_id, "Attempt 1 fails on purpose", "Attempt 2 succeeded")
    assert logs.count("Beginning Flow run") == 1, logs
    assert states_by_task(world, run_id)[("flaky", -1)] == "Success"


def test_a_later_retry_ends_in_success_when_the_agent_starts_the_run_again(
    local_world: World,
) -> None:
    world = local_world
    _, (run_id,) = world.client.register(
        FLOWS / "retry_later.py", labels=[LOCAL_LABEL], run_config=LOCAL_RUN, runs=[{}]
    )
    # The first flow process leaves the run Running, its task Retrying in 11 minutes, and ends.
    world.logs_with(run_id, "Attempt 1 fails on purpose", "terminal tasks are incomplete",
                    deadline=90)  # fmt: skip
    assert world.api.state_of(run_id) == "Running", describe(world.api, run_id)
    assert states_by_task(world, run_id)[("flaky", -1)] == "Retrying"
    assert world.client.bring_retries_forward(run_id) == 1  # as if 11 minutes had passed
    world.wait([run_id])
    world.expect(run_id, "Success")
    logs = world.logs_with(run_id, "Attempt 2 succeeded")
    assert logs.count("Beginning Flow run") == 2, logs  # the agent started the run again
    assert states_by_task(world, run_id)[("flaky", -1)] == "Success"


def test_a_result_checkpointed_with_local_result(local_world: World) -> None:
    world = local_world
    results = world.workdir / "results"
    _, (run_id,) = world.client.register(
        FLOWS / "checkpointed.py", labels=[LOCAL_LABEL],
        run_config={"type": "LocalRun", "env": {"E2E_RESULTS_DIR": str(results)}},
        runs=[{}],
    )  # fmt: skip
    world.wait([run_id])
    world.expect(run_id, "Success")
    location = results / f"{run_id}.json"
    assert json.loads(location.read_text()) == {"answer": 42}
    (task,) = task_runs(world.api, run_id)
    # The task run's state in the API points at the checkpoint, as Prefect Server keeps it.
    assert str(location) in json.dumps(task["serialized_state"]), task


def test_a_scheduled_flow_gets_runs_ahead_and_the_first_one_runs(local_world: World) -> None:
    world = local_world
    flow_id, _ = world.client.register(
        FLOWS / "scheduled.py", labels=[LOCAL_LABEL], run_config=LOCAL_RUN
    )

    def runs() -> list[dict[str, Any]]:
        data = world.api.graphql(
            "query($id: uuid!) { flow_run(where: {flow_id: {_eq: $id}},"
            " order_by: {scheduled_start_time: asc}) { id state scheduled_start_time } }",
            {"id": flow_id},
        )
        return list(data["flow_run"])

    ahead = eventually(lambda: (found := runs()) and len(found) >= 2 and found, "scheduled runs")
    times = [run["scheduled_start_time"] for run in ahead]
    assert len(set(times)) == len(times), times  # one run per scheduled time
    first = ahead[0]["id"]
    world.wait([first])
    world.expect(first, "Success")
    world.logs_with(first, "Scheduled tick for")


def test_a_cancelled_run_ends_cancelled(local_world: World) -> None:
    world = local_world
    _, (run_id,) = world.client.register(
        FLOWS / "slow.py", labels=[LOCAL_LABEL], run_config=LOCAL_RUN, runs=[{}]
    )
    eventually(
        lambda: "Working until cancelled" in log_text(world.api, run_id),
        "the slow task to start",
        deadline=90,
    )
    world.client.cancel(run_id)
    world.wait([run_id], deadline=90)
    world.expect(run_id, "Cancelled")

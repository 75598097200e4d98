"""Prefect 1.4.1 registers flows against the embedded API and runs them to their end states
with ``python -m prefect execute flow-run`` (as the agents start them), no agent involved."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from prefect_agent.server.testing import RunningServer
from tests.polling import eventually
from tests.server.prefect1_client import Prefect1Client

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


FAILING = """
    from prefect import Flow, task

    @task
    def boom():
        raise ValueError("the answer is not 42")

    with Flow("failing", storage=STORAGE) as flow:
        boom()
"""


def test_a_failing_task_fails_the_run_with_the_error_in_its_logs(
    client: Prefect1Client, api: RunningServer
) -> None:
    run_id = client.create_flow_run(client.register(client.write_flow("failing", FAILING)))

    client.execute(run_id)

    assert api.state_of(run_id) == "Failed"
    assert client.task_states(run_id) == {("boom", -1): "Failed"}
    errors = [log["message"] for log in api.logs(run_id) if log["level"] == "ERROR"]
    assert any("the answer is not 42" in message for message in errors), errors


FEATURES = """
    import datetime, os
    import prefect
    from prefect import Flow, task
    from prefect.engine.results import LocalResult
    from prefect.artifacts import create_markdown_artifact
    from prefect.engine.signals import LOOP

    HERE = os.path.dirname(os.path.abspath(__file__))

    @task(task_run_name="named-{x}")
    def named(x):
        create_markdown_artifact(f"# got {x}")
        return x

    @task(checkpoint=True, result=LocalResult(dir=os.path.join(HERE, "results"),
                                              location="kept.json"))
    def kept(x):
        return {"kept": x}

    @task
    def looping():
        count = prefect.context.get("task_loop_result", 0)
        if count < 2:
            raise LOOP(result=count + 1)
        return count

    @task(cache_for=datetime.timedelta(hours=1))
    def cached():
        prefect.context.get("logger").info("computing the cached value")
        return 7

    with Flow("features", storage=STORAGE) as flow:
        kept(named(5))
        cached()
        looping()
"""


def test_checkpointed_results_task_run_names_artifacts_and_cached_states(
    client: Prefect1Client, api: RunningServer, tmp_path: Path
) -> None:
    flow_id = client.register(client.write_flow("features", FEATURES))
    first = client.create_flow_run(flow_id)
    second = client.create_flow_run(flow_id)

    assert client.execute(first).returncode == 0
    assert client.execute(second).returncode == 0

    assert api.state_of(first) == api.state_of(second) == "Success"
    runs = {t["task"]["name"]: t for t in client.task_runs(first)}
    assert runs["named"]["name"] == "named-5"
    kept = runs["kept"]["serialized_state"]["_result"]
    assert kept["location"] == str(tmp_path / "results" / "kept.json")
    assert (tmp_path / "results" / "kept.json").exists()
    artifacts = api.graphql(
        "query($id: uuid!) { task_run_artifact(where: {task_run_id: {_eq: $id}}) { kind data } }",
        {"id": runs["named"]["id"]},
    )["task_run_artifact"]
    assert artifacts == [{"kind": "markdown", "data": {"markdown": "# got 5"}}]
    # The second run found the first one's Cached state instead of computing again.
    assert runs["cached"]["state"] == "Cached"
    assert client.task_states(second)[("cached", -1)] == "Cached"
    computed = [log for log in api.logs(second) if log["message"] == "computing the cached value"]
    assert computed == []
    looped = api.graphql(
        "query($id: uuid!) { task_run_by_pk(id: $id) { state states(order_by: {version: asc})"
        " { state } } }",
        {"id": runs["looping"]["id"]},
    )["task_run_by_pk"]
    history = [s["state"] for s in looped["states"]]
    assert looped["state"] == "Success"
    assert history.count("Looped") == 2 and history[-1] == "Success"


RETRYING = """
    import datetime, os
    from prefect import Flow, task

    MARK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attempted")

    # Longer than the 10 minutes a flow process waits for a retry itself: the process ends
    # and the run waits in the queue for an agent to start it again.
    @task(max_retries=1, retry_delay=datetime.timedelta(minutes=11))
    def flaky():
        if not os.path.exists(MARK):
            open(MARK, "w").close()
            raise RuntimeError("first attempt fails")
        return 42

    with Flow("retrying", storage=STORAGE) as flow:
        flaky()
"""

QUEUE = (
    "mutation($input: get_runs_in_queue_input!) {"
    " get_runs_in_queue(input: $input) { flow_run_ids } }"
)


def queued(api: RunningServer, run_id: str, before: datetime | None = None) -> list[str]:
    """What an agent with the run's labels (Local storage adds the host name) gets."""
    labels = api.run(run_id)["labels"]
    query_input: dict[str, Any] = {"tenant_id": api.tenant_id, "labels": labels}
    if before is not None:
        query_input["before"] = before.isoformat()
    return list(api.graphql(QUEUE, {"input": query_input})["get_runs_in_queue"]["flow_run_ids"])


def test_a_task_retrying_later_leaves_the_run_running_and_back_in_the_queue_when_due(
    client: Prefect1Client, api: RunningServer
) -> None:
    run_id = client.create_flow_run(client.register(client.write_flow("retrying", RETRYING)))
    assert queued(api, run_id) == [run_id]

    client.execute(run_id)

    assert api.state_of(run_id) == "Running"
    (flaky,) = client.task_runs(run_id)
    assert flaky["state"] == "Retrying"
    due = datetime.fromisoformat(flaky["serialized_state"]["start_time"])
    assert due > datetime.now(timezone.utc) + timedelta(minutes=10)
    assert queued(api, run_id) == []
    assert queued(api, run_id, before=due + timedelta(seconds=1)) == [run_id]

    # Time passes (the retry is made due now, as Prefect 1.4.1 writes a Retrying state) and
    # the run is started again, as an agent would: the retry succeeds.
    retry_now = client.python(
        """
        import json, pendulum
        from prefect.engine.state import Retrying
        print(json.dumps(Retrying("Retry now", start_time=pendulum.now("UTC"), run_count=1)
                         .serialize()))
        """
    )
    api.graphql(
        "mutation($input: set_task_run_states_input!) { set_task_run_states(input: $input)"
        " { states { status } } }",
        {"input": {"states": [{"task_run_id": flaky["id"], "state": retry_now}]}},
    )
    assert queued(api, run_id) == [run_id]
    assert client.execute(run_id).returncode == 0
    assert api.state_of(run_id) == "Success"
    assert client.task_states(run_id) == {("flaky", -1): "Success"}


SLOW = """
    import time
    from prefect import Flow, task

    @task
    def slow():
        for _ in range(600):
            time.sleep(0.1)

    with Flow("slow", storage=STORAGE) as flow:
        slow()
"""


def test_cancelling_a_running_flow_run_ends_it_cancelled(
    client: Prefect1Client, api: RunningServer
) -> None:
    run_id = client.create_flow_run(client.register(client.write_flow("slow", SLOW)))
    process = client.start(run_id, PREFECT__CLOUD__CHECK_CANCELLATION_INTERVAL="1")
    try:
        eventually(lambda: client.task_states(run_id).get(("slow", -1)) == "Running",
                   "the slow task to run", deadline=60)  # fmt: skip
        cancelled = client.python(
            f"""
            import json
            from prefect import Client
            print(json.dumps(Client().cancel_flow_run({run_id!r})))
            """
        )
        assert cancelled == "Cancelling"
        eventually(lambda: api.state_of(run_id) == "Cancelled", "the run to end Cancelled", 60)
        assert api.history(run_id)[-2:] == ["Cancelling", "Cancelled"]
        assert process.wait(timeout=60) is not None
    finally:
        process.kill()
        process.wait()
    assert client.task_states(run_id)[("slow", -1)] == "Cancelled"


def test_cancelling_a_scheduled_run_cancels_it_at_once(
    client: Prefect1Client, api: RunningServer
) -> None:
    run_id = client.create_flow_run(client.register(client.write_flow("slow", SLOW)))
    assert api.graphql(
        "mutation($input: cancel_flow_run_input!) { cancel_flow_run(input: $input) { state } }",
        {"input": {"flow_run_id": run_id}},
    )["cancel_flow_run"] == {"state": "Cancelled"}
    assert client.task_states(run_id) == {("slow", -1): "Cancelled"}
    assert queued(api, run_id) == []


TAGGED = """
    import os, time
    from prefect import Flow, task

    GO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "go")

    @task(tags=["db"])
    def hold():
        while not os.path.exists(GO):
            time.sleep(0.05)

    with Flow("tagged", storage=STORAGE) as flow:
        hold()
"""


def test_a_task_tag_concurrency_limit_queues_task_runs_over_it(
    client: Prefect1Client, api: RunningServer, tmp_path: Path
) -> None:
    client.python(
        "import json; from prefect import Client; "
        "print(json.dumps(Client().update_task_tag_limit('db', 1)))"
    )
    limit = client.python(
        "import json; from prefect import Client; "
        "print(json.dumps(Client().get_task_tag_limit('db')))"
    )
    assert limit == 1
    flow_id = client.register(client.write_flow("tagged", TAGGED))
    first, second = client.create_flow_run(flow_id), client.create_flow_run(flow_id)
    holder = client.start(first)
    waiter = None
    try:
        eventually(lambda: client.task_states(first)[("hold", -1)] == "Running", "first runs", 60)
        waiter = client.start(second, PREFECT__CLOUD__QUEUE_INTERVAL="1")
        eventually(
            lambda: "Queued" in api.graphql(
                "query($id: uuid!) { task_run(where: {flow_run_id: {_eq: $id}}) "
                "{ states { state } } }", {"id": second},
            )["task_run"][0]["states"].__repr__(),
            "the second run's task to be queued by the limit", 60,
        )  # fmt: skip
        assert client.task_states(second)[("hold", -1)] != "Running"
        # Its flow process waits for the slot: agents must not start the run a second time.
        assert queued(api, second) == []
        (tmp_path / "go").touch()
        assert holder.wait(timeout=60) == 0
        assert waiter.wait(timeout=90) == 0
    finally:
        for process in (holder, waiter):
            if process is not None:
                process.kill()
                process.wait()
    assert api.state_of(first) == api.state_of(second) == "Success"

"""Prefect 1.4.1's own CLI against the embedded API: projects, registration, versions,
``prefect get ...`` and ``prefect run --name ... --watch``."""

from __future__ import annotations

import subprocess

from prefect_agent.server.testing import RunningServer
from tests.polling import eventually
from tests.server.prefect1_client import Prefect1Client

HELLO = """
    import prefect
    from prefect import Flow, Parameter, task

    @task
    def greet(name):
        prefect.context.get("logger").info("Hello, %s!", name)

    @task
    def double(x):
        return 2 * x

    with Flow("hello", storage=STORAGE) as flow:
        greet(Parameter("name", default="world"))
        double.map([1, 2])
"""


def test_projects_registration_and_the_get_commands(
    client: Prefect1Client, api: RunningServer
) -> None:
    assert "demo created" in client.cli("create", "project", "demo")
    # Again: Prefect recognises the existing project and carries on.
    client.cli("create", "project", "demo")
    path = client.write_flow("hello", HELLO)

    registered = client.cli("register", "-p", str(path), "--project", "demo")
    assert "1 registered" in registered
    assert "Skipped (metadata unchanged)" in client.cli(
        "register", "-p", str(path), "--project", "demo"
    )

    projects = client.cli("get", "projects").splitlines()
    assert projects[1].split()[:2] == ["demo", "1"]
    flows = client.cli("get", "flows").splitlines()
    assert flows[1].split()[:2] == ["hello", "1"]
    assert flows[1].split()[-1] == "demo"
    tasks = {line.split()[0]: line.split() for line in client.cli("get", "tasks").splitlines()[1:]}
    assert {"greet", "double", "name"} <= set(tasks)
    assert "True" in tasks["double"] and "False" in tasks["greet"]  # the MAPPED column

    ran = client.cli(
        "run", "--name", "hello", "--project", "demo", "--param", "name=cli", "--execute", "--watch"
    )
    assert "Hello, cli!" in ran
    assert "Flow run succeeded!" in ran

    flow_id = flows[1].split()[-2]
    assert "Flow run succeeded!" in client.cli("run", "--id", flow_id, "--execute", "--watch")

    runs = client.cli("get", "flow-runs", "--started").splitlines()
    assert len(runs) == 3
    run_name = runs[-1].split()[0]
    assert runs[-1].split()[1:3] == ["hello", "Success"]
    logs = client.cli("get", "logs", "--name", run_name)
    assert "Hello, cli!" in logs


def test_run_watch_follows_a_run_started_elsewhere_to_its_end(
    client: Prefect1Client, api: RunningServer
) -> None:
    client.register(client.write_flow("hello", HELLO), project="demo")
    watcher = subprocess.Popen(
        [str(client.prefect1.python), "-m", "prefect", "run", "--name", "hello", "--project",
         "demo", "--param", "name=watched", "--watch"],
        env=client.full_env(), cwd=client.home, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        runs = eventually(
            lambda: api.graphql("{ flow_run { id } }")["flow_run"], "the run to be created"
        )
        # An agent's part: start the flow process.
        assert client.execute(runs[0]["id"]).returncode == 0
        output, _ = watcher.communicate(timeout=120)
    finally:
        watcher.kill()
        watcher.wait()
    assert watcher.returncode == 0, output
    assert "Hello, watched!" in output
    assert "Flow run succeeded!" in output


CHANGED = HELLO.replace('default="world"', 'default="again"')


def test_a_new_version_archives_the_old_one_and_version_groups_run_the_newest(
    client: Prefect1Client, api: RunningServer
) -> None:
    first = client.register(client.write_flow("hello", HELLO), project="demo")
    second = client.register(client.write_flow("hello", CHANGED), project="demo")

    flows = api.graphql(
        "{ flow(order_by: {version: asc}) { id version archived version_group_id "
        "flow_group { id } } }"
    )["flow"]
    assert [(f["id"], f["version"], f["archived"]) for f in flows] == [
        (first, 1, True),
        (second, 2, False),
    ]
    assert flows[0]["version_group_id"] == flows[1]["version_group_id"]
    run_id = client.python(
        f"""
        import json
        from prefect import Client
        print(json.dumps(Client().create_flow_run(version_group_id={flows[0]["version_group_id"]!r})))
        """
    )
    ran = api.graphql("query($id: uuid!) { flow_run_by_pk(id: $id) { flow_id } }", {"id": run_id})
    assert ran["flow_run_by_pk"]["flow_id"] == second
    assert client.execute(run_id).returncode == 0
    assert "Hello, again!" in [log["message"] for log in api.logs(run_id)]
    refused = client.run(
        ["-c", f"from prefect import Client; Client().create_flow_run(flow_id={first!r})"]
    )
    assert refused.returncode != 0
    assert "archived" in refused.stderr


def test_flow_group_settings_apply_to_new_runs_and_flow_processes(
    client: Prefect1Client, api: RunningServer
) -> None:
    flow_id = client.register(client.write_flow("hello", HELLO), project="demo")
    group = api.graphql(
        "query($id: uuid!) { flow_by_pk(id: $id) { flow_group_id } }", {"id": flow_id}
    )["flow_by_pk"]["flow_group_id"]
    for operation, value in (
        ("set_flow_group_labels", {"labels": ["b", "a"]}),
        ("set_flow_group_default_parameters", {"parameters": {"name": "group"}}),
    ):
        api.graphql(
            f"mutation($input: {operation}_input!) {{ {operation}(input: $input) {{ success }} }}",
            {"input": {"flow_group_id": group, **value}},
        )
    api.graphql(
        "mutation($input: disable_flow_heartbeat_input!) {"
        " disable_flow_heartbeat(input: $input) { success } }",
        {"input": {"flow_id": flow_id}},
    )

    run_id = client.create_flow_run(flow_id)

    assert api.run(run_id)["labels"] == ["a", "b"]
    settings = api.graphql(
        "query($id: uuid!) { flow_run_by_pk(id: $id) { parameters flow { settings } } }",
        {"id": run_id},
    )["flow_run_by_pk"]
    assert settings["parameters"] == {"name": "group"}
    assert settings["flow"]["settings"]["heartbeat_enabled"] is False
    assert client.execute(run_id).returncode == 0
    assert "Hello, group!" in [log["message"] for log in api.logs(run_id)]
    assert (
        api.graphql("query($id: uuid!) { flow_run_by_pk(id: $id) { heartbeat } }", {"id": run_id})[
            "flow_run_by_pk"
        ]["heartbeat"]
        is not None
    )  # Running still records one

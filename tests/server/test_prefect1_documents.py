"""Every document Prefect 1.4.1 sends (client, flow runner, task runner, CLI) is answered
without errors, and those of the Python-service half validate against Prefect Server's own
schema: the embedded API speaks Prefect Server's protocol, not one of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema, parse, validate
from graphql.language import FieldNode, OperationDefinitionNode

from prefect_agent.server.testing import RunningServer, running_server
from tests.prefect1.venv import Prefect1
from tests.server.prefect1_client import Prefect1Client
from tests.server.test_schema_subset import REFERENCE_SCHEMA

FLOW = """
    import prefect
    from prefect import Flow, Parameter, task

    @task(task_run_name="say-{name}")
    def say(name):
        prefect.context.get("logger").info("Hi %s", name)

    @task
    def inc(x):
        return x + 1

    with Flow("documents", storage=STORAGE) as flow:
        say(Parameter("name", default="you"))
        inc.map([1, 2])
"""


@pytest.fixture
def recorded() -> Iterator[tuple[RunningServer, list[tuple[str, dict[str, Any]]]]]:
    documents: list[tuple[str, dict[str, Any]]] = []
    with running_server() as api:
        execute = api.server.api.execute

        def record(query: str, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
            status, body = execute(query, *args, **kwargs)
            documents.append((query, body))
            return status, body

        api.server.api.execute = record  # type: ignore[method-assign]
        yield api, documents


def root_fields(text: str) -> set[str]:
    return {
        selection.name.value
        for definition in parse(text).definitions
        if isinstance(definition, OperationDefinitionNode)
        for selection in definition.selection_set.selections
        if isinstance(selection, FieldNode)
    }


def test_what_prefect_sends_is_answered_and_is_prefect_servers_protocol(
    prefect1: Prefect1, recorded: tuple[RunningServer, list[tuple[str, dict[str, Any]]]],
    tmp_path: Path,
) -> None:  # fmt: skip
    api, documents = recorded
    client = Prefect1Client(prefect1, api, tmp_path)
    client.cli("create", "project", "docs")
    path = client.write_flow("documents", FLOW)
    client.cli("register", "-p", str(path), "--project", "docs")
    plain = client.write_flow("plain", FLOW.replace('"documents"', '"documents-plain"'))
    flow_id = client.python(
        f"""
        import json, runpy
        from prefect import Client
        flow = runpy.run_path({str(plain)!r})["flow"]
        registered = Client().register(flow, project_name="docs", compressed=False, no_url=True)
        print(json.dumps(registered))
        """
    )
    run_id = client.create_flow_run(flow_id, parameters={"name": "doc"})
    assert client.execute(run_id).returncode == 0
    client.cli("get", "flow-runs")
    client.cli("get", "logs", "--id", run_id)
    client.cli("get", "tasks")
    other = client.create_flow_run(flow_id)
    client.python(
        "import json; from prefect import Client; "
        f"print(json.dumps(Client().cancel_flow_run({other!r})))"
    )

    failed = [(query, body["errors"]) for query, body in documents if body.get("errors")]
    assert failed == []
    reference = build_schema(REFERENCE_SCHEMA.read_text())
    names = set(reference.query_type.fields) | set(reference.mutation_type.fields)  # type: ignore[union-attr]
    server_half = [query for query, _ in documents if root_fields(query) <= names]
    for query in server_half:
        assert [e.message for e in validate(reference, parse(query))] == [], query
    sent = set().union(*(root_fields(query) for query in server_half))
    assert {
        "create_project",
        "create_flow_from_compressed_string",
        "create_flow",
        "register_tasks",
        "register_edges",
        "set_schedule_active",
        "create_flow_run",
        "set_flow_run_states",
        "get_or_create_task_run_info",
        "set_task_run_states",
        "set_task_run_name",
        "update_flow_run_heartbeat",
        "write_run_logs",
        "cancel_flow_run",
    } <= sent

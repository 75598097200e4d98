"""End to end: the embedded API, ``prefect agent docker start`` in a subprocess, and flow runs in
containers that report back to the API over the host network.

Each container runs the host's Python (image ``local/hostpython`` with ``/usr:/usr:ro``) and
a small script standing in for ``prefect execute flow-run``: it sets its run Running, writes
a log line, and then either sets Success or crashes with the exit code it was given.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent_process import AgentProcess
from tests.docker.conftest import HOST_USR, HOSTPYTHON, remove_agent_containers

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

FLOW_SCRIPT = r"""
import json, os, sys, time, urllib.request

API = os.environ["PREFECT__CLOUD__API"]
RUN_ID = os.environ["PREFECT__CONTEXT__FLOW_RUN_ID"]


def gql(query, variables):
    request = urllib.request.Request(
        API,
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + os.environ["PREFECT__CLOUD__API_KEY"],
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    if body.get("errors"):
        sys.exit(f"API error: {body['errors']}")
    return body["data"]


def set_state(name):
    version = gql(
        "query($id: uuid!) { flow_run_by_pk(id: $id) { version } }", {"id": RUN_ID}
    )["flow_run_by_pk"]["version"]
    gql(
        "mutation($input: set_flow_run_states_input!) {"
        " set_flow_run_states(input: $input) { states { id } } }",
        {"input": {"states": [{"flow_run_id": RUN_ID, "version": version,
                                "state": {"type": name, "message": name + " in a container"}}]}},
    )


def log(message):
    gql(
        "mutation($input: write_run_logs_input!) { write_run_logs(input: $input) { success } }",
        {"input": {"logs": [{"flow_run_id": RUN_ID, "message": message, "level": "INFO",
                              "name": "e2e-flow"}]}},
    )


set_state("Running")
log("hello from a container; API " + API)
release = os.environ.get("WAIT_FOR")
while release and not os.path.exists("/e2e/" + release):
    time.sleep(0.05)
code = int(os.environ.get("EXIT_CODE", "0"))
if code:
    print("the flow crashed before reporting", flush=True)
    sys.exit(code)
set_state("Success")
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "flow.py").write_text(FLOW_SCRIPT)
    (tmp_path / "home").mkdir()
    return tmp_path


@pytest.fixture
def agents(docker_engine: Any, api: Any, workdir: Path) -> Iterator[Callable[[], AgentProcess]]:
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    label = f"e2e-{uuid.uuid4().hex[:6]}"
    started: list[AgentProcess] = []

    def start() -> AgentProcess:
        agent = AgentProcess(
            "docker", api.url, workdir,
            "--network", "host",
            "--volume", HOST_USR,
            "--volume", f"{workdir}:/e2e:ro",
            "--flow-run-command", "python3 /e2e/flow.py",
            "--monitor-interval", "0.3",
            "--show-flow-logs",
            labels=[label], name=name, api_key=api.api_key,
        )  # fmt: skip
        started.append(agent)
        return agent

    start.label = label  # type: ignore[attr-defined]
    start.agent_name = name  # type: ignore[attr-defined]
    yield start
    for agent in started:
        agent.stop()
    remove_agent_containers(docker_engine, name)


def docker_run(env: dict[str, str] | None = None) -> dict[str, Any]:
    return {"type": "DockerRun", "image": HOSTPYTHON, "env": env}


def messages(api: Any, run_id: str) -> list[str]:
    return [log["message"] for log in api.logs(run_id)]


def test_runs_execute_in_containers_and_report_back(agents: Any, api: Any) -> None:
    ok = api.create_run(labels=[agents.label], run_config=docker_run(), name="e2e-ok")
    crash = api.create_run(
        labels=[agents.label], run_config=docker_run({"EXIT_CODE": "3"}), name="e2e-crash"
    )
    agent = agents()
    agent.eventually(lambda: api.state_of(ok) == "Success", "run e2e-ok to succeed")
    agent.eventually(lambda: api.state_of(crash) == "Failed", "run e2e-crash to fail")

    assert api.history(ok)[:4] == ["Scheduled", "Submitted", "Running", "Success"]
    ok_logs = messages(api, ok)
    assert any(m.startswith("Submitted for execution: Container ID: ") for m in ok_logs)
    # The container reached the API on 127.0.0.1 over the host network, unchanged.
    assert f"hello from a container; API {api.url}" in ok_logs

    crash_logs = messages(api, crash)
    assert any(f"Container prefect-{crash} exited with code 3" in m for m in crash_logs)
    assert any("the flow crashed before reporting" in m for m in crash_logs)
    assert api.run(crash)["serialized_state"]["message"].endswith("exited with code 3")
    agent.eventually(lambda: "[e2e-crash] the flow crashed" in agent.text(), "streamed logs")


def test_a_restarted_agent_adopts_the_container_and_never_starts_it_twice(
    agents: Any, api: Any, workdir: Path, docker_engine: Any
) -> None:
    began = int(time.time()) - 1
    run_id = api.create_run(
        labels=[agents.label],
        run_config=docker_run({"WAIT_FOR": "release", "EXIT_CODE": "3"}),
        name="e2e-restart",
    )
    first = agents()
    first.eventually(lambda: api.state_of(run_id) == "Running", "the run to start")
    assert first.stop() == 0

    second = agents()
    second.eventually(lambda: "Watching 1 flow run(s)" in second.text(), "the adoption")
    (workdir / "release").touch()
    second.eventually(lambda: api.state_of(run_id) == "Failed", "the adopted run to fail")
    assert any("exited with code 3" in m for m in messages(api, run_id))

    starts = docker_engine.events(
        since=began,
        until=int(time.time()) + 1,
        filters={"event": "start", "label": f"io.prefect.flow-run-id={run_id}"},
        decode=True,
    )
    assert sum(1 for _ in starts) == 1
    assert api.history(run_id).count("Submitted") == 1

"""End to end: ``prefect agent ecs start`` (a subprocess, the real CLI) against the embedded
API and moto in server mode, with a run config serialized by Prefect 1.4.1.

moto runs no containers: the test plays the ECS scheduler by ending the task with the exit
code and reasons ECS would report (``MotoEcs.finish``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")
pytest.importorskip("graphql")

from prefect_agent.server.testing import RunningServer
from tests.agent_process import AgentProcess
from tests.ecs.moto_ecs import MotoEcs, running_moto
from tests.prefect1.venv import Prefect1
from tests.reliability.harness import set_states

pytestmark = pytest.mark.e2e

OOM = "OutOfMemoryError: Container killed due to memory usage"
AGENT_NAME = "e2e-ecs"


@pytest.fixture
def moto() -> Iterator[MotoEcs]:
    with running_moto() as moto:
        moto.reset()
        yield moto


def ecs_agent(api: RunningServer, moto: MotoEcs, workdir: Path) -> AgentProcess:
    """The agent with moto's AWS settings (none of the machine's ``AWS_`` variables)."""
    return AgentProcess(
        "ecs", api.url, workdir,
        "--env", "FROM_AGENT=1",
        "--task-definition", str(moto.task_definition_file(workdir)),
        "--task-role-arn", "arn:aws:iam::123456789012:role/agent-task",
        "--task-sync-interval-seconds", "0.2", "--monitor-interval", "0.2",
        labels=["ecs"], name=AGENT_NAME, api_key=api.api_key, env=moto.environ, drop=("AWS_",),
    )  # fmt: skip


def test_runs_become_tasks_and_a_task_that_exits_1_fails_its_run(
    prefect1: Prefect1, api: RunningServer, moto: MotoEcs, tmp_path: Path
) -> None:
    default = api.create_run(labels=["ecs"], run_config=prefect1.run_config("ECSRun()"))
    custom = api.create_run(
        labels=["ecs"],
        run_config=prefect1.run_config(
            'ECSRun(image="registry.local/flows:7", cpu=512, memory=1024, '
            'env={"FROM_RUN": "2"}, run_task_kwargs={"overrides": {"containerOverrides": '
            '[{"name": "flow", "environment": [{"name": "FROM_KWARGS", "value": "3"}]}]}})',
        ),
    )
    agent = ecs_agent(api, moto, tmp_path)
    try:
        agent.eventually(
            lambda: moto.tasks_of(default) and moto.tasks_of(custom), "both runs' tasks"
        )
        assert api.state_of(default) == "Submitted" and api.state_of(custom) == "Submitted"

        task = moto.task_of(custom)
        assert task["launchType"] == "FARGATE"
        # No networkConfiguration was given: the default VPC's subnets were found for FARGATE.
        subnet = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}["subnetId"]
        assert subnet in moto.default_subnets()
        assert {"key": "prefect:flow-run-id", "value": custom} in task["tags"]
        overrides = task["overrides"]
        assert overrides["cpu"] == "512" and overrides["memory"] == "1024"
        assert overrides["taskRoleArn"] == "arn:aws:iam::123456789012:role/agent-task"
        (flow,) = overrides["containerOverrides"]
        assert flow["command"] == ["/bin/sh", "-c", "prefect execute flow-run"]
        env = {e["name"]: e["value"] for e in flow["environment"]}
        assert env["PREFECT__CONTEXT__FLOW_RUN_ID"] == custom
        assert env["PREFECT__CLOUD__API"] == api.url
        assert (env["FROM_AGENT"], env["FROM_RUN"], env["FROM_KWARGS"]) == ("1", "2", "3")
        definition = moto.ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
        (container,) = definition["taskDefinition"]["containerDefinitions"]
        assert container["image"] == "registry.local/flows:7"
        assert definition["taskDefinition"]["family"].startswith("prefect-flow-")
        assert definition["taskDefinition"]["status"] == "INACTIVE"  # deregistered after run_task
        assert moto.task_of(default)["containers"][0]["image"] == "prefecthq/prefect:1.4.1"

        moto.finish(task["taskArn"], 1, container_reason=OOM)
        agent.eventually(lambda: api.state_of(custom) == "Failed", "the failed task's run to fail")
        messages = "\n".join(log["message"] for log in api.logs(custom))
        assert "exited with code 1" in messages and OOM in messages
        assert "Essential container in task exited" in messages
        assert api.state_of(default) == "Submitted"  # its task is still running
        assert len(moto.tasks_of(default)) == 1 and len(moto.tasks_of(custom)) == 1
    finally:
        status = agent.terminate()
    assert status == 0, agent.text()[-3000:]
    assert "FROM_RUN" not in agent.text()  # the environment is never logged


def test_cancel_stops_the_task(
    prefect1: Prefect1, api: RunningServer, moto: MotoEcs, tmp_path: Path
) -> None:
    """A user's cancel (Cancelling, as Prefect 1.4.1 serializes it) stops the run's task,
    and the run ends Cancelled, not Failed, though the stopped task is a failed outcome."""
    made = prefect1.json_of(
        "import json; import prefect.engine.state as s\n"
        "print(json.dumps(s.Cancelling('Cancelled by its user').serialize()))"
    )
    victim = api.create_run(labels=["ecs"], run_config=prefect1.run_config("ECSRun()"))
    other = api.create_run(labels=["ecs"], run_config=prefect1.run_config("ECSRun()"))
    agent = ecs_agent(api, moto, tmp_path)
    try:
        agent.eventually(lambda: moto.tasks_of(victim) and moto.tasks_of(other), "both runs' tasks")
        set_states(api, [victim], made)

        def stopped_and_acknowledged() -> bool:
            task = moto.task_of(victim)
            tags = {t["key"] for t in task.get("tags") or ()}
            return task["lastStatus"] == "STOPPED" and "prefect:reported" in tags

        agent.eventually(
            lambda: api.state_of(victim) == "Cancelled" and stopped_and_acknowledged(),
            "the cancelled run's task to stop",
        )
        task = moto.task_of(victim)
        assert task["stoppedReason"] == f"Stopped by prefect-agent {AGENT_NAME}"
        ident = task["taskArn"].rsplit("/", 1)[-1]
        messages = "\n".join(log["message"] for log in api.logs(victim))
        assert f"agent {AGENT_NAME} stopped ECS task {ident}" in messages
        assert api.state_of(victim) == "Cancelled"  # the stopped task did not fail it
        assert moto.task_of(other)["lastStatus"] == "RUNNING"
        assert api.state_of(other) == "Submitted"
    finally:
        status = agent.terminate()
    assert status == 0, agent.text()[-3000:]

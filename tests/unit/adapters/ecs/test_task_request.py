"""The ECS task definition and run_task arguments, side by side with Prefect 1.4.1's agent.

Every run config here is built and serialized by Prefect 1.4.1 itself; its own
``ECSAgent.generate_task_definition`` and ``get_run_task_kwargs`` run on the same flow run, and
ours must build the same requests, plus only ``startedBy`` and the two lookup tags.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("boto3")

from prefect_agent.adapters.ecs.documents import default_task_definition
from prefect_agent.adapters.ecs.task_request import (
    OWNER_TAG,
    RUN_TAG,
    merge_run_task_kwargs,
    run_task_kwargs_for,
    task_definition_for,
)
from prefect_agent.adapters.graphql.converters import flow_run_from_row
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.ecs_run_config import ECSRun
from prefect_agent.domain.ecs_settings import ECSSettings
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import build_launch_spec
from tests.prefect1.side_by_side import SCRIPT
from tests.prefect1.venv import Prefect1

RUN_ID = "0b8cbb0e-5b8a-4d43-9c31-3c0b0a7d9d61"
FLOW_ID = "7c0b5f4e-8f0e-4b5d-9e0a-2f9b5b0d7a11"
API = "http://prefect-api:4200"
PREFECT1_ENV = {
    "PREFECT__BACKEND": "server",
    "PREFECT__CLOUD__API": API,
    "PREFECT__LOGGING__LEVEL": "INFO",
}

# Each case: the ECSRun arguments (given to Prefect 1.4.1) and the agent's settings.
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "default ECSRun()": ("ECSRun()", {}),
    "every field": (
        """ECSRun(image="reg/flow:1", cpu=2048, memory="4 GB", env={"A": "1",
        "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS": "false"}, labels=["b", "a"],
        task_role_arn="arn:task-run", execution_role_arn="arn:exec-run",
        task_definition={"networkMode": "awsvpc", "cpu": 512, "memory": 1024,
          "containerDefinitions": [{"name": "side", "image": "s"},
            {"name": "flow", "environment": [{"name": "KEEP", "value": "k"},
              {"name": "PREFECT__CONTEXT__IMAGE", "value": "old"}]}]},
        run_task_kwargs={"cluster": "run-cluster", "capacityProviderStrategy":
          [{"capacityProvider": "FARGATE_SPOT"}], "overrides": {"containerOverrides": [
            {"name": "flow", "environment": [{"name": "EXTRA", "value": "e"}]},
            {"name": "side", "command": ["x"]}]}})""",
        {
            "cluster": "agent-cluster",
            "task_role_arn": "arn:task-agent",
            "execution_role_arn": "arn:exec-agent",
            "run_task_kwargs": {
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s-1"]}},
                "overrides": {"containerOverrides": [{"name": "flow", "cpu": 1}]},
            },
        },
    ),
    "roles from the task definition": (
        """ECSRun(task_definition={"taskRoleArn": "arn:task-def",
        "executionRoleArn": "arn:exec-def", "containerDefinitions": [{"name": "flow"}]},
        run_task_kwargs={"overrides": {"cpu": 256, "memory": 512}, "launchType": "EC2"})""",
        {"execution_role_arn": "arn:exec-agent", "task_role_arn": "arn:task-agent"},
    ),
    "a registered task definition": (
        """ECSRun(task_definition_arn="flow-def:3")""",
        {"described_task_definition": {"executionRoleArn": "arn:exec-described"}},
    ),
}


def flow_run_row(run_config: Any) -> dict[str, Any]:
    return {
        "id": RUN_ID,
        "name": "brave-otter",
        "version": 2,
        "state": "Submitted",
        "serialized_state": {},
        "labels": [],
        "run_config": run_config,
        "flow": {
            "id": FLOW_ID,
            "name": "ETL: daily",
            "version": 4,
            "core_version": "1.4.1",
            "storage": {"type": "Local", "__version__": "1.4.1"},
        },
    }


def prefect1_builds(prefect1: Prefect1, case: dict[str, Any]) -> dict[str, Any]:
    done = prefect1.run(["-c", SCRIPT], input=json.dumps(case), env=PREFECT1_ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def ours(run: FlowRun, settings: ECSSettings, extra: dict[str, Any]) -> dict[str, Any]:
    """Our builders, with the agent state 1.4.1's constructor would have made."""
    config = AgentConfig(name="ecs-agent", labels=["dev"], env_vars={"AGENT": "v"}, api=API,
                         platform=settings)  # fmt: skip
    spec = build_launch_spec(run, config, tenant_id=None)
    assert isinstance(spec.run_config, ECSRun)
    agent_kwargs = dict(extra.get("run_task_kwargs", {}))
    launch_type = settings.launch_type
    if not agent_kwargs.get("capacityProviderStrategy"):
        launch_type = launch_type or "FARGATE"
        agent_kwargs["launchType"] = launch_type
    if settings.cluster:
        agent_kwargs["cluster"] = settings.cluster
    if spec.run_config.task_definition_arn is None:
        template = spec.run_config.task_definition or default_task_definition()
        taskdef = task_definition_for(template, run, spec.run_config, settings, launch_type)
    else:
        taskdef = extra["described_task_definition"]
    kwargs = run_task_kwargs_for(agent_kwargs, spec.run_config, taskdef, spec, settings, "own")
    return {"taskdef": taskdef, "kwargs": kwargs}


@pytest.mark.parametrize("name", list(CASES))
def test_requests_match_prefect_1_4_1(prefect1: Prefect1, name: str) -> None:
    expression, extra = CASES[name]
    serialized = prefect1.run_config(expression)
    run = flow_run_from_row(flow_run_row(serialized))
    assert isinstance(run, FlowRun) and isinstance(run.run_config, ECSRun)
    known = ("cluster", "task_role_arn", "execution_role_arn")
    settings = ECSSettings(**{k: extra[k] for k in known if k in extra})
    theirs = prefect1_builds(
        prefect1,
        {
            "agent": "ecs",
            "flow_run": flow_run_row(serialized),
            "settings": {
                **extra,
                "task_definition": default_task_definition(),
                "launch_type": None
                if extra.get("run_task_kwargs", {}).get("capacityProviderStrategy")
                else "FARGATE",
                "env_vars": {"AGENT": "v"},
                "labels": ["dev"],
            },
        },
    )
    mine = ours(run, settings, extra)
    kwargs = mine["kwargs"]
    # What we add to 1.4.1's request: the lookup key of a retried launch or a restart.
    assert kwargs.pop("startedBy") == RUN_ID
    assert kwargs.pop("tags") == [
        {"key": RUN_TAG, "value": RUN_ID},
        {"key": OWNER_TAG, "value": "own"},
    ]
    assert mine["taskdef"] == theirs["taskdef"]
    assert environments_as_maps(kwargs) == environments_as_maps(theirs["kwargs"])


def environments_as_maps(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The container overrides' environments as name -> value (ECS applies them by name;
    1.4.1 and we list the fixed variables in another order)."""
    out = json.loads(json.dumps(kwargs))
    for override in out.get("overrides", {}).get("containerOverrides", []):
        if "environment" in override:
            names = [e["name"] for e in override["environment"]]
            assert len(names) == len(set(names)), names
            override["environment"] = {e["name"]: e["value"] for e in override["environment"]}
    return out


def test_a_default_ecs_run_gets_the_packaged_definition_and_the_flow_command(
    prefect1: Prefect1,
) -> None:
    run = flow_run_from_row(flow_run_row(prefect1.run_config("ECSRun()")))
    assert isinstance(run, FlowRun)
    built = ours(run, ECSSettings(), {})
    taskdef, kwargs = built["taskdef"], built["kwargs"]
    assert taskdef["family"] == f"prefect-etl-daily-{RUN_ID}"
    assert taskdef["cpu"] == "1024" and taskdef["memory"] == "2048"
    assert taskdef["requiresCompatibilities"] == ["FARGATE"]
    (flow,) = taskdef["containerDefinitions"]
    assert flow["image"] == "prefecthq/prefect:1.4.1"
    (override,) = kwargs["overrides"]["containerOverrides"]
    assert override["command"] == ["/bin/sh", "-c", "prefect execute flow-run"]
    env = {e["name"]: e["value"] for e in override["environment"]}
    assert env["PREFECT__CONTEXT__FLOW_RUN_ID"] == RUN_ID
    assert env["PREFECT__CLOUD__API"] == API
    assert "PREFECT__CONTEXT__IMAGE" not in env  # it is in the task definition


def test_user_tags_are_kept_and_ours_cannot_be_spoofed() -> None:
    run = FlowRun(id=RUN_ID, version=1, state="Submitted", flow_id=FLOW_ID, flow_name="f")
    run_config = ECSRun(
        run_task_kwargs={
            "tags": [{"key": "team", "value": "data"}, {"key": RUN_TAG, "value": "other"}],
            "startedBy": "someone",
        }
    )
    config = AgentConfig(platform=ECSSettings())
    spec = build_launch_spec(attrs_evolve(run, run_config), config, tenant_id=None)
    kwargs = run_task_kwargs_for({}, spec.run_config, {}, spec, ECSSettings(), "me")  # type: ignore[arg-type]
    assert kwargs["startedBy"] == RUN_ID
    assert kwargs["tags"] == [
        {"key": "team", "value": "data"},
        {"key": RUN_TAG, "value": RUN_ID},
        {"key": OWNER_TAG, "value": "me"},
    ]


def attrs_evolve(run: FlowRun, run_config: ECSRun) -> FlowRun:
    import attrs

    return attrs.evolve(run, run_config=run_config)


def test_merge_pairs_container_overrides_by_name_and_excludes_launch_type() -> None:
    base = {
        "launchType": "FARGATE",
        "cluster": "a",
        "overrides": {"cpu": "1", "containerOverrides": [{"name": "flow", "cpu": 1}]},
    }
    extra = {
        "capacityProviderStrategy": [{"capacityProvider": "X"}],
        "overrides": {
            "memory": "2",
            "containerOverrides": [{"name": "flow", "memory": 2}, {"name": "b"}],
        },
    }
    merged = merge_run_task_kwargs(base, extra)
    assert "launchType" not in merged
    assert merged["overrides"] == {
        "cpu": "1",
        "memory": "2",
        "containerOverrides": [{"name": "flow", "cpu": 1, "memory": 2}, {"name": "b"}],
    }
    assert base["launchType"] == "FARGATE"  # inputs are not modified

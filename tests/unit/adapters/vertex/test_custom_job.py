"""The Vertex custom job, side by side with Prefect 1.4.1's ``VertexAgent``: run configs
serialized by Prefect 1.4.1, its own ``generate_task_definition`` on the same flow run."""

from __future__ import annotations

import json

import pytest

from prefect_agent.adapters.graphql.converters import flow_run_from_row
from prefect_agent.adapters.vertex.custom_job import (
    OWNER_LABEL,
    RUN_LABEL,
    VERDICT_KEPT,
    VERDICT_LABEL,
    console_url,
    custom_job_for,
    label_value,
)
from prefect_agent.adapters.vertex.job_state import judge
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.vertex_run_config import VertexRun
from prefect_agent.domain.vertex_settings import VertexSettings
from tests.prefect1.side_by_side import SCRIPT
from tests.prefect1.venv import Prefect1
from tests.unit.adapters.ecs.test_task_request import API, PREFECT1_ENV, RUN_ID, flow_run_row

CASES = {
    "default VertexRun()": ("VertexRun()", None),
    "every field": (
        """VertexRun(image="reg/flow:2", machine_type="n1-standard-8", env={"A": "1"},
        labels=["x"], scheduling={"timeout": "3600s"}, service_account="run@sa",
        network="projects/1/global/networks/n", worker_pool_specs=[
          {"machine_spec": {"machine_type": "a2-highgpu-1g"}, "replica_count": 1},
          {"machine_spec": {"machine_type": "e2"}, "replica_count": 2,
           "container_spec": {"image_uri": "side"}}])""",
        "agent@sa",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_custom_job_matches_prefect_1_4_1(prefect1: Prefect1, name: str) -> None:
    expression, service_account = CASES[name]
    serialized = prefect1.run_config(expression)
    row = flow_run_row(serialized)
    run = flow_run_from_row(row)
    assert isinstance(run, FlowRun) and isinstance(run.run_config, VertexRun)
    settings = VertexSettings(
        project="p", region_name="europe-west4", service_account=service_account
    )
    config = AgentConfig(name="Vertex Agent", labels=["dev"], env_vars={"AGENT": "v"}, api=API,
                         platform=settings)  # fmt: skip
    mine = custom_job_for(
        run, build_launch_spec(run, config, tenant_id=None), settings, config.name
    )
    case = {
        "agent": "vertex",
        "flow_run": row,
        "settings": {"project": "p", "region_name": "europe-west4", "labels": ["dev"],
                     "service_account": service_account, "env_vars": {"AGENT": "v"}},
    }  # fmt: skip
    done = prefect1.run(["-c", SCRIPT], input=json.dumps(case), env=PREFECT1_ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout)
    # Ours adds the lookup labels; 1.4.1 sets service_account to None when it has none.
    assert mine.pop("labels") == {
        RUN_LABEL: RUN_ID,
        OWNER_LABEL: "vertex-agent",
        VERDICT_LABEL: VERDICT_KEPT,
    }
    if theirs["job_spec"].get("service_account") is None:
        theirs["job_spec"].pop("service_account")
    mine_env = mine["job_spec"]["worker_pool_specs"][0]["container_spec"].pop("env")
    their_env = theirs["job_spec"]["worker_pool_specs"][0]["container_spec"].pop("env")
    assert {e["name"]: e["value"] for e in mine_env} == {e["name"]: e["value"] for e in their_env}
    assert json.loads(json.dumps(mine)) == theirs


def test_a_failed_job_reports_the_replica_exit_status_and_the_message() -> None:
    name = "projects/p/locations/r/customJobs/42"
    message = "The replica workerpool0-0 exited with a non-zero status of 1."
    outcome = judge(RUN_ID, name, "JOB_STATE_FAILED", 3, message)
    assert outcome is not None and not outcome.succeeded
    assert outcome.exit_code == 1
    assert outcome.reason == f"Vertex AI custom job 42 failed: {message} (code 3)"
    assert judge(RUN_ID, name, "JOB_STATE_RUNNING") is None
    assert judge(RUN_ID, name, "JOB_STATE_SUCCEEDED").succeeded  # type: ignore[union-attr]
    cancelled = judge(RUN_ID, name, "JOB_STATE_CANCELLED")
    assert cancelled is not None and cancelled.reason == "Vertex AI custom job 42 cancelled"


def test_console_url_and_label_values() -> None:
    assert console_url("projects/p/locations/us-central1/customJobs/42") == (
        "https://console.cloud.google.com/vertex-ai/locations/us-central1/training/42"
    )
    assert label_value("My Agent!") == "my-agent"

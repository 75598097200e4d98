"""Metadata rows to domain FlowRuns; malformed rows to UnreadableRun with the reason."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from prefect_agent.adapters.graphql.converters import (
    RowError,
    flow_run_from_row,
    run_config_from_json,
    run_config_to_json,
)
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.outcomes import UnreadableRun
from prefect_agent.domain.run_config import DockerRun, KubernetesRun, LocalRun, UniversalRun

START = "2024-01-01T12:00:00+00:00"


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "run-1",
        "version": 3,
        "state": "Scheduled",
        "serialized_state": {"type": "Scheduled", "start_time": START, "message": "m"},
        "parameters": {},
        "scheduled_start_time": START,
        "run_config": {
            "__version__": "1.4.1",
            "env": {"X": "y"},
            "labels": ["dev"],
            "type": "LocalRun",
            "working_dir": "/tmp",
        },
        "name": "nightly",
        "labels": ["dev"],
        "flow": {
            "id": "flow-1",
            "name": "etl",
            "storage": None,
            "version": 1,
            "core_version": "1.4.1",
        },
        "task_runs": [],
    }
    base.update(overrides)
    return base


def test_a_scheduled_row_becomes_a_flow_run() -> None:
    run = flow_run_from_row(row())
    assert isinstance(run, FlowRun)
    assert (run.id, run.version, run.state, run.name) == ("run-1", 3, "Scheduled", "nightly")
    assert (run.flow_id, run.flow_name, run.core_version) == ("flow-1", "etl", "1.4.1")
    assert run.start_time == datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    assert run.labels == ("dev",)
    assert run.run_config == LocalRun(env={"X": "y"}, labels=["dev"], working_dir="/tmp")


def test_docker_storage_gives_the_image() -> None:
    storage = {
        "type": "Docker",
        "registry_url": "reg.io/org/",
        "image_name": "img",
        "image_tag": "t1",
    }
    run = flow_run_from_row(row(flow={"id": "f", "name": "n", "storage": storage}))
    assert isinstance(run, FlowRun)
    assert (run.storage_type, run.storage_image) == ("Docker", "reg.io/org/img:t1")


def test_a_running_row_carries_its_due_task_runs() -> None:
    tasks = [
        {
            "id": "t1",
            "version": 2,
            "task_id": "task",
            "state": "Retrying",
            "serialized_state": {"type": "Retrying", "start_time": START},
        }
    ]
    run = flow_run_from_row(
        row(state="Running", serialized_state={"type": "Running"}, task_runs=tasks)
    )
    assert isinstance(run, FlowRun)
    assert run.start_time is None
    assert run.is_retry
    assert [(t.id, t.version, t.state) for t in run.task_runs_due] == [("t1", 2, "Retrying")]


@pytest.mark.parametrize(
    ("config", "cls"),
    [
        ({"type": "UniversalRun", "env": None, "labels": []}, UniversalRun),
        (
            {
                "type": "DockerRun",
                "image": "repo/img:tag",
                "ports": [8080],
                "host_config": {"mem_limit": "1g"},
                "env": None,
                "labels": [],
            },
            DockerRun,
        ),
        (
            {
                "type": "KubernetesRun",
                "cpu_limit": "2",
                "image_pull_policy": "Always",
                "image_pull_secrets": ["s"],
                "job_template": {"kind": "Job"},
            },
            KubernetesRun,
        ),
    ],
)
def test_every_supported_run_config_reads_and_round_trips(
    config: dict[str, Any], cls: type
) -> None:
    parsed = run_config_from_json({**config, "__version__": "1.4.1"})
    assert isinstance(parsed, cls)
    assert run_config_from_json(run_config_to_json(parsed)) == parsed
    assert run_config_to_json(parsed)["type"] == cls.__name__


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"type": "ECSRun", "cpu": "1024"}, "type 'ECSRun', which is not supported by this"),
        ({"type": "VertexRun"}, "type 'VertexRun'"),
        ({"env": {}}, "type None"),
        (["LocalRun"], "must be a JSON object"),
        ({"type": "DockerRun", "ports": ["http"]}, "run_config.ports[0]"),
        ({"type": "KubernetesRun", "image_pull_policy": "Sometimes"}, "KubernetesRun"),
        ({"type": "LocalRun", "env": "A=1"}, "run_config.env"),
    ],
)
def test_unreadable_run_configs_fail_only_their_run(config: Any, reason: str) -> None:
    result = flow_run_from_row(row(run_config=config))
    assert isinstance(result, UnreadableRun)
    assert result.run_id == "run-1"
    assert result.version == 3
    assert reason in result.reason
    assert result.reason.startswith("Flow run run-1 cannot be read")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"serialized_state": None}, "serialized_state must be a JSON object"),
        ({"version": "3"}, "version must be an integer"),
        ({"state": None}, "state must be a non-empty string"),
        ({"serialized_state": {"type": "Scheduled", "start_time": "soon"}}, "not an ISO 8601"),
        ({"labels": "dev"}, "labels must be a list"),
        ({"task_runs": [{"id": "t", "version": None}]}, "task_runs[0].version"),
        ({"flow": "etl"}, "flow must be an object"),
    ],
)
def test_malformed_rows_become_unreadable(overrides: dict[str, Any], reason: str) -> None:
    result = flow_run_from_row(row(**overrides))
    assert isinstance(result, UnreadableRun)
    assert reason in result.reason


def test_a_row_without_an_id_cannot_even_be_failed() -> None:
    with pytest.raises(RowError, match="without an id"):
        flow_run_from_row({"version": 1})

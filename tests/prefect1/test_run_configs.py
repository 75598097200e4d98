"""Every run config as Prefect 1.4.1 serializes it reaches the matching agent, and that agent
launches what Prefect 1.4.1's agent of the same type launches (tests/prefect1/compare.py
lists the only differences allowed, each documented in docs/<agent>.md)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefect_agent.adapters.graphql.converters import flow_run_from_row
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.ecs_settings import ECSSettings
from prefect_agent.domain.errors import IncompatibleRunConfig
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.outcomes import UnreadableRun
from prefect_agent.domain.vertex_settings import VertexSettings
from tests.prefect1 import cases, ours
from tests.prefect1.compare import check
from tests.prefect1.venv import Prefect1, ask

PLATFORMS = {"local": LocalSettings, "docker": DockerSettings, "kubernetes": KubernetesSettings}


# -- defaults and every field set --------------------------------------------------------------


def default_and_full_launches() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for cls, kinds in cases.RUNS_ON.items():
        for variant, kwargs in (("default", {}), ("full", cases.FULL[cls])):
            for kind in kinds:
                config = {"cls": cls, "kwargs": kwargs}
                out.append((f"{cls}-{variant}-{kind}", cases.launch(kind, config, len(out))))
    for kind in ("local", "docker", "kubernetes"):
        out.append((f"no-run-config-{kind}", cases.launch(kind, None, len(out))))
    kubernetes_first = {"cls": "KubernetesRun", "kwargs": {"job_template": cases.SIDECAR_FIRST}}
    out.append(("no-flow-container", cases.launch("kubernetes", kubernetes_first, len(out))))
    numbers = {"cls": "DockerRun", "kwargs": {"env": {"N": 1, "F": 0.5, "B": True}}}
    out.append(("docker-numeric-env", cases.launch("docker", numbers, len(out))))
    with_key = cases.launch("local", None, len(out), api_key="agent-key")
    out.append(("local-with-api-key", with_key))
    return out


LAUNCHES = default_and_full_launches()


@pytest.fixture(scope="module")
def answers(prefect1: Prefect1) -> dict[str, dict[str, Any]]:
    replies = ask(prefect1, [request for _, request in LAUNCHES])
    return {name: reply for (name, _), reply in zip(LAUNCHES, replies, strict=True)}


@pytest.mark.parametrize(("name", "request_"), LAUNCHES, ids=[name for name, _ in LAUNCHES])
def test_defaults_and_every_field_launch_as_prefect_1_4_1_launches_them(
    answers: dict[str, dict[str, Any]], name: str, request_: dict[str, Any]
) -> None:
    answer = answers[name]
    assert "value" in answer, answer
    check(request_, answer["value"])


def test_an_inherited_api_key_never_reaches_a_local_run(answers: dict[str, Any]) -> None:
    request = dict(LAUNCHES)["no-run-config-local"]
    launched = ours.local(
        answers["no-run-config-local"]["value"]["row"], request["agent"], request["environ"]
    )
    assert "PREFECT__CLOUD__API_KEY" not in launched["env"]
    assert "PREFECT__CLOUD__TENANT_ID" not in launched["env"]
    keyed = answers["local-with-api-key"]["value"]["launch"]["env"]
    assert keyed["PREFECT__CLOUD__API_KEY"] == "agent-key"


def test_the_first_container_is_filled_when_none_is_named_flow(answers: dict[str, Any]) -> None:
    job = ours.kubernetes(answers["no-flow-container"]["value"]["row"], cases.AGENT["kubernetes"])
    main, sidecar = job["spec"]["template"]["spec"]["containers"]
    assert main["name"] == "main" and main["image"] == "template/main:1"
    assert main["args"] == ["prefect", "execute", "flow-run"]
    assert sidecar == {"name": "sidecar", "image": "template/sidecar:1"}


# -- run configs no agent here runs, and run configs of another agent type ----------------------


@pytest.fixture(scope="module")
def serialized(prefect1: Prefect1) -> dict[str, Any]:
    names = list(cases.FULL)
    requests = [
        {"op": "flow_run", **cases.flow_run({"cls": cls, "kwargs": kwargs}, i)}
        for i, (cls, kwargs) in enumerate(
            [(n, {}) for n in names] + [(n, cases.FULL[n]) for n in names]
        )
    ]
    replies = ask(prefect1, requests)
    keys = [f"{n}-default" for n in names] + [f"{n}-full" for n in names]
    return {key: reply["value"] for key, reply in zip(keys, replies, strict=True)}


@pytest.mark.parametrize("cls", ["ECSRun", "VertexRun"])
@pytest.mark.parametrize("variant", ["default", "full"])
def test_ecs_and_vertex_runs_are_read_and_refused_by_the_other_agents_in_one_line(
    serialized: dict[str, Any], cls: str, variant: str
) -> None:
    run = flow_run_from_row(serialized[f"{cls}-{variant}"])
    assert not isinstance(run, UnreadableRun), run
    for kind, settings_class in PLATFORMS.items():
        with pytest.raises(IncompatibleRunConfig) as refused:
            build_launch_spec(run, AgentConfig(platform=settings_class()), tenant_id=None)
        assert cls in refused.value.reason and "\n" not in refused.value.reason, kind
    own = ECSSettings if cls == "ECSRun" else VertexSettings
    build_launch_spec(run, AgentConfig(platform=own()), tenant_id=None)


@pytest.mark.parametrize("cls", ["LocalRun", "DockerRun", "KubernetesRun"])
@pytest.mark.parametrize("kind", ["local", "docker", "kubernetes"])
def test_a_run_config_for_another_agent_type_is_refused_in_one_line(
    serialized: dict[str, Any], cls: str, kind: str
) -> None:
    run = flow_run_from_row(serialized[f"{cls}-full"])
    assert not isinstance(run, UnreadableRun)
    config = AgentConfig(platform=PLATFORMS[kind]())
    if kind in cases.RUNS_ON[cls]:
        build_launch_spec(run, config, tenant_id=None)
        return
    with pytest.raises(IncompatibleRunConfig) as refused:
        build_launch_spec(run, config, tenant_id=None)
    assert cls in refused.value.reason and "\n" not in refused.value.reason


# -- a hypothesis-driven spread of field combinations, one Prefect call per batch --------------


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_field_combinations_launch_as_prefect_1_4_1_launches_them(
    prefect1: Prefect1, data: st.DataObject
) -> None:
    batch = [
        request
        for kind in ("local", "docker", "kubernetes")
        for request in data.draw(st.lists(cases.launches(kind), min_size=12, max_size=12))
    ]
    for index, request in enumerate(batch):
        request["flow_run"]["id"] = f"00000000-0000-4000-8000-{index:012d}"
    for request, answer in zip(batch, ask(prefect1, batch), strict=True):
        assert "value" in answer, answer
        check(request, answer["value"])


REMOTE_TEMPLATES = ["agent:///etc/prefect/job.yaml", "https://example.com/j.yaml", "s3://b/j.yaml"]


@pytest.fixture(scope="module")
def remote_template_rows(prefect1: Prefect1) -> list[dict[str, Any]]:
    # Prefect 1.4.1 inlines a local path at flow-build time and keeps remote ones for the agent.
    requests = [
        {
            "op": "flow_run",
            **cases.flow_run({"cls": "KubernetesRun", "kwargs": {"job_template_path": p}}),
        }
        for p in REMOTE_TEMPLATES
    ]
    return [answer["value"] for answer in ask(prefect1, requests)]


@pytest.mark.parametrize("index", range(len(REMOTE_TEMPLATES)))
def test_a_remote_job_template_path_reaches_the_kubernetes_agent_as_written(
    remote_template_rows: list[dict[str, Any]], index: int
) -> None:
    run = flow_run_from_row(remote_template_rows[index])
    assert not isinstance(run, UnreadableRun), run.reason
    assert run.run_config.job_template_path == REMOTE_TEMPLATES[index]  # type: ignore[union-attr]

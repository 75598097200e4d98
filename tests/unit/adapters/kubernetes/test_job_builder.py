from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_agent.adapters.kubernetes.job_builder import JobTemplate, build_job
from prefect_agent.adapters.kubernetes.job_checks import job_problems, quantity_value
from prefect_agent.adapters.kubernetes.job_templates import default_template
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import LaunchError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.run_config import KubernetesRun, UniversalRun
from tests.unit.adapters.kubernetes.manifest_validation import assert_valid

RUN_ID = "0b8cbb0e-5b8a-4d43-9c31-3c0b0a7d9d61"
FLOW_ID = "7c0b5f4e-8f0e-4b5d-9e0a-2f9b5b0d7a11"


def make(
    run_config: Any = None,
    *,
    settings: KubernetesSettings | None = None,
    template: JobTemplate | None = None,
    api_key: str | None = None,
    **run_fields: Any,
) -> dict[str, Any]:
    config = AgentConfig(
        name="k8s-agent",
        labels=["dev"],
        env_vars={"AGENT_VAR": "x", "PREFECT__CONTEXT__FLOW_RUN_ID": "overridden?"},
        platform=settings or KubernetesSettings(),
        api_key=api_key,
        backend="cloud" if api_key else "server",
    )
    run = FlowRun(
        id=RUN_ID,
        version=4,
        state="Scheduled",
        flow_id=FLOW_ID,
        name="nice-run",
        run_config=run_config,
        core_version="1.4.1",
        **run_fields,
    )
    spec = build_launch_spec(run, config, tenant_id=None)
    job, _ = build_job(
        template or JobTemplate(body=default_template(), source="default"),
        run,
        spec,
        settings=config.platform,  # type: ignore[arg-type]
        owner="k8s-agent",
    )
    assert_valid(job)
    assert job_problems(job) == []
    return job


def pod_of(job: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = job["spec"]["template"]["spec"]
    return pod


def env_of(job: dict[str, Any]) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueFrom")) for e in pod_of(job)["containers"][0]["env"]
    }


def test_the_default_template_makes_a_valid_job() -> None:
    job = make()
    assert job["metadata"]["namespace"] == "default"
    assert job["spec"]["backoffLimit"] == 0
    pod = pod_of(job)
    assert pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    assert container["name"] == "flow"
    assert container["image"] == "prefecthq/prefect:1.4.1"
    assert container["args"] == ["prefect", "execute", "flow-run"]
    assert "command" not in container


def test_labels_and_annotations_identify_run_flow_and_agent() -> None:
    job = make()
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert labels["prefect.io/flow_run_id"] == RUN_ID
        assert labels["prefect.io/flow_id"] == FLOW_ID
        assert labels["prefect-agent.io/owner"] == "k8s-agent"
    assert job["metadata"]["annotations"]["prefect-agent.io/flow-run-id"] == RUN_ID


def test_the_environment_follows_prefect_precedence() -> None:
    env = env_of(make(KubernetesRun(env={"RC": "1", "AGENT_VAR": "from-run"})))
    assert env["AGENT_VAR"] == "from-run"
    assert env["RC"] == "1"
    assert env["PREFECT__CONTEXT__FLOW_RUN_ID"] == RUN_ID
    assert env["PREFECT__CONTEXT__FLOW_ID"] == FLOW_ID
    assert env["PREFECT__CONTEXT__IMAGE"] == "prefecthq/prefect:1.4.1"
    assert env["PREFECT__CLOUD__AGENT__LABELS"] == "['dev']"
    assert env["PREFECT__CLOUD__API_KEY"] == ""


def test_template_env_has_the_lowest_precedence() -> None:
    template = default_template()
    template["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "TEMPLATE_ONLY", "value": "t"},
        {"name": "AGENT_VAR", "value": "template"},
    ]
    job = make(template=JobTemplate(body=template, source="t"))
    env = env_of(job)
    assert env["TEMPLATE_ONLY"] == "t"
    assert env["AGENT_VAR"] == "x"
    names = [e["name"] for e in pod_of(job)["containers"][0]["env"]]
    assert names[-1] == "TEMPLATE_ONLY"
    assert names.count("AGENT_VAR") == 1


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("image", "my/img:2", ("image",)),
        ("image_pull_policy", "IfNotPresent", ("imagePullPolicy",)),
        ("cpu_request", "500m", ("resources", "requests", "cpu")),
        ("cpu_limit", "2", ("resources", "limits", "cpu")),
        ("memory_request", "256Mi", ("resources", "requests", "memory")),
        ("memory_limit", "1Gi", ("resources", "limits", "memory")),
    ],
)
def test_each_container_field_of_the_run_config(
    field: str, value: str, where: tuple[str, ...]
) -> None:
    node: Any = pod_of(make(KubernetesRun(**{field: value})))["containers"][0]
    for key in where:
        node = node[key]
    assert node == value


def test_service_account_and_pull_secrets_of_the_run_config_win() -> None:
    settings = KubernetesSettings(service_account_name="agent-sa", image_pull_secrets=["agent-s"])
    pod = pod_of(
        make(
            KubernetesRun(service_account_name="run-sa", image_pull_secrets=["a", "b"]),
            settings=settings,
        )
    )
    assert pod["serviceAccountName"] == "run-sa"
    assert pod["imagePullSecrets"] == [{"name": "a"}, {"name": "b"}]


def test_the_agent_service_account_and_pull_secrets_apply_by_default() -> None:
    settings = KubernetesSettings(service_account_name="agent-sa", image_pull_secrets=["agent-s"])
    pod = pod_of(make(settings=settings))
    assert pod["serviceAccountName"] == "agent-sa"
    assert pod["imagePullSecrets"] == [{"name": "agent-s"}]


def test_a_run_config_template_keeps_its_own_service_account() -> None:
    template = default_template()
    template["spec"]["template"]["spec"]["serviceAccountName"] = "template-sa"
    template["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "template-s"}]
    settings = KubernetesSettings(service_account_name="agent-sa", image_pull_secrets=["agent-s"])
    pod = pod_of(
        make(
            KubernetesRun(job_template=template),
            settings=settings,
            template=JobTemplate(body=template, source="run", from_run_config=True),
        )
    )
    assert pod["serviceAccountName"] == "template-sa"
    assert pod["imagePullSecrets"] == [{"name": "template-s"}]


def test_the_template_image_is_used_before_the_default() -> None:
    template = default_template()
    template["spec"]["template"]["spec"]["containers"][0]["image"] = "team/base:7"
    job = make(template=JobTemplate(body=template, source="t"))
    assert pod_of(job)["containers"][0]["image"] == "team/base:7"
    assert env_of(job)["PREFECT__CONTEXT__IMAGE"] == "team/base:7"


def test_docker_storage_image_wins_over_everything() -> None:
    job = make(KubernetesRun(image="run/img:1"), storage_image="reg/flow:abc")
    assert pod_of(job)["containers"][0]["image"] == "reg/flow:abc"


def test_a_universal_run_gets_its_env() -> None:
    assert env_of(make(UniversalRun(env={"U": "1"})))["U"] == "1"


def test_the_api_key_is_a_secret_reference_when_a_secret_is_configured() -> None:
    settings = KubernetesSettings(api_key_secret_name="prefect-api-key", api_key_secret_key="key")
    job = make(settings=settings, api_key="pcu_supersecret")
    env = env_of(job)
    ref = {"secretKeyRef": {"name": "prefect-api-key", "key": "key"}}
    assert env["PREFECT__CLOUD__API_KEY"] == ref
    assert env["PREFECT__CLOUD__AUTH_TOKEN"] == ref
    assert "pcu_supersecret" not in repr(job)


def test_without_a_secret_the_api_key_is_a_plain_value() -> None:
    env = env_of(make(api_key="pcu_plain"))
    assert env["PREFECT__CLOUD__API_KEY"] == "pcu_plain"


def test_another_namespace_in_the_template_is_an_error() -> None:
    template = default_template()
    template["metadata"]["namespace"] = "prod"
    with pytest.raises(LaunchError, match="names namespace 'prod'"):
        make(template=JobTemplate(body=template, source="my.yaml"))


def test_a_bad_quantity_fails_the_run_with_the_field() -> None:
    with pytest.raises(LaunchError, match=r"limits.memory 'lots' is not a quantity"):
        make(KubernetesRun(memory_limit="lots"))


def test_restart_policy_always_in_a_template_is_refused() -> None:
    template = default_template()
    template["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    with pytest.raises(LaunchError, match="restartPolicy must be Never"):
        make(template=JobTemplate(body=template, source="t"))


def test_a_template_backoff_limit_is_kept() -> None:
    template = default_template()
    template["spec"]["backoffLimit"] = 2
    assert make(template=JobTemplate(body=template, source="t"))["spec"]["backoffLimit"] == 2


def test_a_template_without_containers_gets_the_flow_container() -> None:
    template = {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {}}}}
    job = make(template=JobTemplate(body=template, source="t"))
    assert pod_of(job)["containers"][0]["name"] == "flow"


def test_a_sidecar_template_targets_the_flow_container() -> None:
    template = default_template()
    template["spec"]["template"]["spec"]["containers"].insert(
        0, {"name": "sidecar", "image": "proxy:1"}
    )
    job = make(template=JobTemplate(body=template, source="t"))
    sidecar, flow = pod_of(job)["containers"]
    assert sidecar == {"name": "sidecar", "image": "proxy:1"}
    assert flow["args"] == ["prefect", "execute", "flow-run"]


def test_agent_volumes_and_mounts_are_applied() -> None:
    settings = KubernetesSettings(
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "flows"}}],
        volume_mounts=[{"name": "data", "mountPath": "/data"}],
    )
    pod = pod_of(make(settings=settings))
    assert pod["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "flows"}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]


dns_names = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
quantities = st.sampled_from(["100m", "0.5", "2", "64Mi", "1Gi", "1.5G", "129e6", None])
env_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,15}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(
    image=st.one_of(
        st.none(),
        st.sampled_from(["busybox", "reg.io:5000/team/img:1.2", "a/b@sha256:" + "0" * 64]),
    ),
    pull_policy=st.sampled_from([None, "Always", "IfNotPresent", "Never"]),
    cpu_request=quantities,
    cpu_limit=quantities,
    memory_request=quantities,
    memory_limit=quantities,
    service_account=st.one_of(st.none(), dns_names),
    pull_secrets=st.lists(dns_names, max_size=3),
    env=st.dictionaries(env_names, st.text(max_size=30), max_size=5),
)
def test_any_run_config_makes_a_valid_job(
    image: str | None,
    pull_policy: str | None,
    cpu_request: str | None,
    cpu_limit: str | None,
    memory_request: str | None,
    memory_limit: str | None,
    service_account: str | None,
    pull_secrets: list[str],
    env: dict[str, str],
) -> None:
    run_config = KubernetesRun(
        image=image,
        image_pull_policy=pull_policy,
        cpu_request=cpu_request,
        cpu_limit=cpu_limit,
        memory_request=memory_request,
        memory_limit=memory_limit,
        service_account_name=service_account,
        image_pull_secrets=pull_secrets,
        env=env,
    )
    crossed = any(
        request and limit and quantity_value(request) > quantity_value(limit)
        for request, limit in ((cpu_request, cpu_limit), (memory_request, memory_limit))
    )
    if crossed:
        # The API server would reject the pod: the run fails at once, saying which resource.
        with pytest.raises(LaunchError, match=r"resources: (cpu|memory) request .* above its"):
            make(run_config)
        return
    job = make(run_config)  # validates strictly and with the project's own checks
    generated = env_of(job)
    for name, value in env.items():
        if not name.startswith("PREFECT__"):  # built-ins cannot be overridden
            assert generated[name] == value

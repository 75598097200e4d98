from __future__ import annotations

from typing import Any

import pytest
import yaml

from prefect_agent.adapters.kubernetes.install_manifests import (
    RBAC_RULES,
    InstallOptions,
    install_manifests,
    render,
)
from prefect_agent.adapters.kubernetes.job_checks import is_quantity
from prefect_agent.domain.kubernetes_settings import DNS_1123_LABEL
from prefect_agent.domain.secret import Secret
from tests.unit.adapters.kubernetes.manifest_validation import assert_valid

FULL = InstallOptions(
    api_key=Secret("pcu_install_key"),
    tenant_id="5e3a0a3c-4bd0-4a40-9a8c-7e1a7f5e2f60",
    labels=("a", "b"),
    env_vars={"X": "1"},
    agent_config_id="cfg-1",
    namespace="flows",
    image_pull_secrets="regcred",
    mem_request="256Mi",
    mem_limit="1Gi",
    cpu_request="250m",
    cpu_limit="1",
    image_pull_policy="Always",
    service_account_name="flow-runner",
)


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in manifests}


def own_checks(manifest: dict[str, Any]) -> None:
    metadata = manifest["metadata"]
    assert DNS_1123_LABEL.match(metadata["name"])
    assert DNS_1123_LABEL.match(metadata["namespace"])
    if manifest["kind"] == "Deployment":
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        for kind in ("requests", "limits"):
            assert all(is_quantity(q) for q in container["resources"][kind].values())


@pytest.mark.parametrize(
    "options",
    [InstallOptions(), FULL, InstallOptions(rbac=False, latest=True, backend="server")],
    ids=["defaults", "every-flag", "no-rbac-latest"],
)
def test_every_manifest_validates(options: InstallOptions) -> None:
    manifests = install_manifests(options)
    for manifest in manifests:
        assert_valid(manifest)
        own_checks(manifest)
    assert list(yaml.safe_load_all(render(manifests))) == manifests


def test_the_deployment_probes_health_and_readiness_with_resources() -> None:
    deployment = by_kind(install_manifests(FULL))["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/ready"
    assert container["ports"][0]["containerPort"] == 8080
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert container["command"] == [
        "prefect-agent",  # never Prefect core's `prefect`, even in an image that has both
        "agent",
        "kubernetes",
        "start",
        "--agent-config-id",
        "cfg-1",
    ]
    assert pod["serviceAccountName"] == "prefect-agent"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert deployment["metadata"]["namespace"] == "flows"


def test_the_api_key_lives_only_in_the_secret() -> None:
    manifests = by_kind(install_manifests(FULL))
    assert manifests["Secret"]["stringData"] == {"api-key": "pcu_install_key"}
    deployment_text = render([manifests["Deployment"]])
    assert "pcu_install_key" not in deployment_text
    env = {
        e["name"]: e
        for e in manifests["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert (
        env["PREFECT__CLOUD__API_KEY"]["valueFrom"]["secretKeyRef"]["name"]
        == "prefect-agent-api-key"
    )
    # Jobs are told to reference the same Secret.
    assert (
        env["PREFECT__AGENT__KUBERNETES__API_KEY_SECRET_NAME"]["value"] == "prefect-agent-api-key"
    )


def test_without_a_key_there_is_no_secret() -> None:
    kinds = [m["kind"] for m in install_manifests(InstallOptions())]
    assert kinds == ["ServiceAccount", "Role", "RoleBinding", "Deployment"]


def test_the_role_grants_only_what_the_agent_uses() -> None:
    role = by_kind(install_manifests(InstallOptions()))["Role"]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("batch", "jobs", "create"),
        ("batch", "jobs", "list"),
        ("batch", "jobs", "watch"),  # monitoring: list, then watch from the listed version
        ("batch", "jobs", "patch"),
        ("batch", "jobs", "delete"),
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("", "pods", "delete"),  # a cancelled run's pods, with the stop grace period
        ("", "events", "list"),
    }
    assert "*" not in str(RBAC_RULES)


def test_the_role_binding_binds_the_service_account_in_the_namespace() -> None:
    manifests = by_kind(install_manifests(FULL))
    subject = manifests["RoleBinding"]["subjects"][0]
    assert subject == {"kind": "ServiceAccount", "name": "prefect-agent", "namespace": "flows"}
    assert manifests["RoleBinding"]["roleRef"]["name"] == manifests["Role"]["metadata"]["name"]


def test_agent_settings_reach_the_agent_through_its_environment() -> None:
    deployment = by_kind(install_manifests(FULL))["Deployment"]
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["NAMESPACE"] == "flows"
    assert env["SERVICE_ACCOUNT_NAME"] == "flow-runner"
    assert env["IMAGE_PULL_SECRETS"] == "regcred"
    assert env["PREFECT__CLOUD__AGENT__LABELS"] == '["a", "b"]'
    assert env["PREFECT__CLOUD__AGENT__ENV_VARS"] == '{"X": "1"}'
    assert env["PREFECT__CLOUD__AGENT__AGENT_ADDRESS"] == "http://0.0.0.0:8080"


def test_latest_uses_the_latest_tag_pulled_always() -> None:
    container = by_kind(install_manifests(InstallOptions(latest=True)))["Deployment"]["spec"][
        "template"
    ]["spec"]["containers"][0]
    assert container["image"] == "prefect-agent:latest"
    assert container["imagePullPolicy"] == "Always"

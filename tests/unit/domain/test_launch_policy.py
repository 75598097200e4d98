"""The operator's launch policy: what a run config may ask of the host or the cluster."""

from __future__ import annotations

from typing import Any

import pytest

from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_policy import (
    docker_host_config_refusal,
    pod_refusal,
    service_account_refusal,
    template_service_account,
)


@pytest.mark.parametrize(
    ("host_config", "permission"),
    [
        ({"privileged": True}, "privileged"),
        ({"binds": {"/etc": {"bind": "/x", "mode": "ro"}}}, "host-binds"),
        ({"binds": ["/var/run/docker.sock:/var/run/docker.sock"]}, "host-binds"),
        ({"mounts": [{"Type": "bind", "Source": "/", "Target": "/h"}]}, "host-binds"),
        ({"volumes_from": ["other"]}, "host-binds"),
        ({"ipc_mode": "host"}, "host-namespaces"),
        ({"network_mode": "container:abc"}, "host-namespaces"),
        ({"userns_mode": "host"}, "host-namespaces"),
        ({"security_opt": ["seccomp=unconfined"]}, "capabilities"),
        ({"device_requests": [{"Count": -1}]}, "devices"),
    ],
)
def test_docker_refusals_name_field_and_permission(host_config: Any, permission: str) -> None:
    refusal = docker_host_config_refusal(host_config, ())
    assert refusal is not None and f"host_config.{next(iter(host_config))}" in refusal
    assert repr(permission) in refusal
    assert docker_host_config_refusal(host_config, (permission,)) is None


@pytest.mark.parametrize(
    "host_config",
    [
        None,
        {},
        {"privileged": False},
        {"mem_limit": "1g", "cpu_quota": 5000, "shm_size": "1g", "extra_hosts": {"a": "1.2.3.4"}},
        {"binds": ["data-volume:/data"], "network_mode": "bridge", "pid_mode": ""},
        {"mounts": [{"Type": "volume", "Source": "cache", "Target": "/c"}]},
    ],
)
def test_ordinary_docker_host_configs_pass(host_config: Any) -> None:
    assert docker_host_config_refusal(host_config, ()) is None


def job(pod: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Job", "spec": {"template": {"spec": pod}}}


@pytest.mark.parametrize(
    ("pod", "field", "permission"),
    [
        (
            {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]},
            "volumes[0].hostPath",
            "host-path",
        ),
        ({"hostPID": True}, "hostPID", "host-namespaces"),
        ({"hostNetwork": True}, "hostNetwork", "host-namespaces"),
        (
            {"containers": [{"name": "flow", "securityContext": {"privileged": True}}]},
            "containers[0].securityContext.privileged",
            "privileged",
        ),
        (
            {"initContainers": [{"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]},
            "initContainers[0].securityContext.capabilities.add",
            "privileged",
        ),
    ],
)
def test_pod_refusals(pod: dict[str, Any], field: str, permission: str) -> None:
    refusal = pod_refusal(job(pod), ())
    assert refusal is not None and f"spec.template.spec.{field}" in refusal
    assert f"{permission!r} permission in agent.kubernetes.run_pod_permissions" in refusal
    assert pod_refusal(job(pod), (permission,)) is None


def test_ordinary_pods_pass() -> None:
    pod = {
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "containers": [{"name": "flow", "securityContext": {"runAsNonRoot": True}}],
    }
    assert pod_refusal(job(pod), ()) is None


def test_service_accounts() -> None:
    assert template_service_account(job({"serviceAccountName": "admin"})) == "admin"
    refusal = service_account_refusal(
        "admin", "service_account_name", agent_account=None, allowed=()
    )
    assert refusal and "'admin'" in refusal and "agent.kubernetes.run_service_accounts" in refusal
    assert service_account_refusal("flows", "f", agent_account="flows", allowed=()) is None
    assert service_account_refusal("admin", "f", agent_account=None, allowed=("admin",)) is None
    assert service_account_refusal("admin", "f", agent_account=None, allowed=("*",)) is None
    assert service_account_refusal(None, "f", agent_account=None, allowed=()) is None


def test_permission_settings_accept_only_known_names() -> None:
    assert DockerSettings(run_host_config_permissions=["privileged"]).run_host_config_permissions
    with pytest.raises(ValueError, match="run_host_config_permissions entries must be among"):
        DockerSettings(run_host_config_permissions=["root"])
    with pytest.raises(ValueError, match="run_pod_permissions entries must be among"):
        KubernetesSettings(run_pod_permissions=["hostpath"])

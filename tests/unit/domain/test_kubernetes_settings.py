from __future__ import annotations

import pytest

from prefect_agent.domain.kubernetes_settings import KubernetesSettings


@pytest.mark.parametrize("namespace", ["default", "flows-prod", "a1"])
def test_valid_namespaces(namespace: str) -> None:
    assert KubernetesSettings(namespace=namespace).namespace == namespace


@pytest.mark.parametrize("namespace", ["Flows", "flows_prod", "-x", "", "a" * 64])
def test_invalid_namespaces_name_the_field(namespace: str) -> None:
    with pytest.raises(ValueError, match=r"namespace must be a DNS-1123 label"):
        KubernetesSettings(namespace=namespace)


def test_every_setting_added_for_kubernetes_has_help() -> None:
    import attrs

    documented = {
        "api_key_secret_name",
        "api_key_secret_key",
        "pending_deadline_seconds",
        "failed_job_ttl_seconds",
        "job_owner",
        "job_sync_interval_seconds",
    }
    for field in attrs.fields(KubernetesSettings):
        if field.name in documented:
            assert field.metadata.get("help"), field.name

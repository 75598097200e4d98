"""Connecting to the cluster: in-cluster service account first, kubeconfig as the fallback."""

from __future__ import annotations

from kubernetes import client, config

from prefect_agent.domain.errors import ConfigError


def cluster_client() -> client.ApiClient:
    """An API client for the cluster the agent runs in, else the current kubeconfig context."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException as in_cluster:
        try:
            config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except (config.ConfigException, OSError, TypeError) as kubeconfig:
            raise ConfigError(
                "cannot reach a Kubernetes cluster: not running in a pod with a service account "
                f"({in_cluster}) and no usable kubeconfig ({kubeconfig}); set KUBECONFIG or run "
                "the agent inside the cluster",
                source="kubernetes",
                key="cluster",
            ) from None
    return client.ApiClient(configuration)

"""Connecting to the cluster: in-cluster service account first, kubeconfig as the fallback."""

from __future__ import annotations

import os

from kubernetes import client, config

from prefect_agent.domain.errors import ConfigError


def cluster_client() -> client.ApiClient:
    """An API client for the cluster the agent runs in, else the current kubeconfig context."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException as in_cluster:
        try:
            # KUBECONFIG is read now, not when the library was imported (it may list several
            # files separated by the path separator, which the library merges).
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.environ.get("KUBECONFIG") or None,
                client_configuration=configuration,
            )
        except (config.ConfigException, OSError, TypeError) as kubeconfig:
            raise ConfigError(
                "cannot reach a Kubernetes cluster: not running in a pod with a service account "
                f"({in_cluster}) and no usable kubeconfig ({kubeconfig}); set KUBECONFIG or run "
                "the agent inside the cluster",
                source="kubernetes",
                key="cluster",
            ) from None
    return client.ApiClient(configuration)

"""Connecting to the cluster: in-cluster service account first, kubeconfig as the fallback."""

from __future__ import annotations

import os
import socket
import sys

import urllib3
from kubernetes import client, config

from prefect_agent.domain.errors import ConfigError

DARWIN_TCP_KEEPALIVE = 0x10
"""macOS's idle-time option, which its socket module does not name."""


def keep_alive_options() -> list[tuple[int, int, int]]:
    """Socket options probing idle connections as Prefect 1.4.1 did: after 6 s idle, every 30 s,
    6 probes (each where the platform has the option)."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPINTVL", 30), ("TCP_KEEPCNT", 6), ("TCP_KEEPIDLE", 6)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    if sys.platform == "darwin":
        options.append((socket.IPPROTO_TCP, DARWIN_TCP_KEEPALIVE, 30))
    return options


def cluster_client(*, keep_alive: bool = False) -> client.ApiClient:
    """An API client for the cluster the agent runs in, else the current kubeconfig context;
    with ``keep_alive``, its connections send TCP keep-alive probes."""
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
    api = client.ApiClient(configuration)
    if keep_alive:
        # Neither the kubernetes client nor urllib3 has a setting for this: the pool's
        # connection arguments carry the socket options (urllib3's defaults kept).
        api.rest_client.pool_manager.connection_pool_kw["socket_options"] = [
            *urllib3.connection.HTTPConnection.default_socket_options,
            *keep_alive_options(),
        ]
    return api

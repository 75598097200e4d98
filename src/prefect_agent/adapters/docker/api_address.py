"""The Prefect API address as a container sees it.

A container does not share the agent's ``localhost`` unless it runs with
``network_mode="host"``. Otherwise an API on ``localhost``, ``127.0.0.1`` or ``::1`` is
rewritten to ``host.docker.internal`` (mapped to the host by the engine's ``host-gateway``),
keeping the URL's scheme, port and path; with the ``prefect-server`` network of Prefect
Server's docker-compose it becomes ``apollo`` (as in Prefect 1.4.1). ``container_api_url``
overrides all of this, and ``--env PREFECT__CLOUD__API=...`` or a run config's env override
it per agent or per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

HOST_GATEWAY_NAME = "host.docker.internal"
SERVER_NETWORK = "prefect-server"
SERVER_HOST = "apollo"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(api: str) -> bool:
    host = urlsplit(api).hostname or ""
    return host.lower() in LOOPBACK_HOSTS or host.startswith("127.")


def container_api_address(
    api: str,
    *,
    network_mode: str | None,
    networks: Sequence[str] = (),
    override: str | None = None,
) -> str:
    """The API URL to give a container (see the module docstring for the rules)."""
    if override:
        return override
    if network_mode == "host" or not is_loopback(api):
        return api
    parts = urlsplit(api)
    host = SERVER_HOST if SERVER_NETWORK in networks else HOST_GATEWAY_NAME
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def can_map_hosts(network_mode: str | None) -> bool:
    """The engine refuses extra host entries with the host network or another's namespace."""
    return network_mode not in ("host", "none") and not (network_mode or "").startswith(
        "container:"
    )

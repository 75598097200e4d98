"""The host name label a local agent adds to its labels, as Prefect 1's local agent does."""

from __future__ import annotations

import socket

import attrs

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.local_settings import LocalSettings


def hostname_label() -> str:
    """This machine's host name; Docker Desktop's shared name is replaced by its address."""
    name = socket.gethostname()
    if name == "docker-desktop":
        try:
            return socket.gethostbyname(name)
        except OSError:
            return name
    return name


def with_hostname_label(config: AgentConfig) -> AgentConfig:
    """``config`` with the host name among its labels, unless its local settings opt out."""
    settings = config.platform
    if not isinstance(settings, LocalSettings) or not settings.hostname_label:
        return config
    label = hostname_label()
    if label in config.labels:
        return config
    return attrs.evolve(config, labels=(*config.labels, label))

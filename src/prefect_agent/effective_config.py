"""The configuration an agent runs with: the layers resolved, then what is added after
(the local agent's host name label) and the checks that need a platform's adapter but no
connection (volume specs, the job template, the state directory)."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import attrs

from prefect_agent.adapters.config import ResolvedConfig, resolve
from prefect_agent.adapters.config.keys import Section
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.ports import ConfigSource

DOCKER_DESKTOP = "docker-desktop"


def hostname_label() -> str:
    """This machine's host name, or its address when every container is "docker-desktop"."""
    host = socket.gethostname()
    if host == DOCKER_DESKTOP:
        # Containers on Docker Desktop share this host name; Prefect 1 uses the IP instead.
        host = socket.gethostbyname(host)
    return host


def effective_config(kind: PlatformKind, layers: Sequence[ConfigSource]) -> ResolvedConfig:
    """The layers resolved, plus the local agent's host name label unless it is turned off."""
    resolved = resolve(kind, layers)
    config = resolved.config
    if kind is not PlatformKind.LOCAL or not getattr(config.platform, "hostname_label", False):
        return resolved
    host = hostname_label()
    if host in config.labels:
        return resolved
    config = attrs.evolve(config, labels=(*config.labels, host))
    entries = tuple(
        attrs.evolve(e, value=config.labels, origin=f"{e.origin} + host name")
        if e.key.field == "labels" and e.key.section is Section.AGENT
        else e
        for e in resolved.entries
    )
    return ResolvedConfig(config=config, entries=entries)


def checked_config(kind: PlatformKind, layers: Sequence[ConfigSource]) -> ResolvedConfig:
    """``effective_config`` plus the checks of the platform's settings that need its adapter
    but no connection (volume specs, the agent's job template, the state directory): what
    ``start`` and ``config`` both run before anything connects, so a bad value is reported
    with where it came from, in the order a user can fix them."""
    resolved = effective_config(kind, layers)
    try:
        check_platform_settings(resolved.config)
    except ConfigError as err:
        raise with_origin(err, resolved) from None
    return resolved


def check_platform_settings(config: AgentConfig) -> None:
    settings = config.platform
    if isinstance(settings, LocalSettings):
        from prefect_agent.adapters.local.platform import default_state_dir
        from prefect_agent.adapters.local.run_records import check_state_dir

        check_state_dir(settings.state_dir or default_state_dir(config.name))
    elif isinstance(settings, DockerSettings):
        from prefect_agent.adapters.docker.volumes import parse_volumes

        parse_volumes(settings.volumes)
    elif isinstance(settings, KubernetesSettings) and settings.job_template_path:
        from prefect_agent.adapters.kubernetes.job_templates import TemplateError, load_template

        try:
            load_template(settings.job_template_path)
        except TemplateError as exc:
            raise ConfigError(str(exc), key="agent.kubernetes.job_template_path") from None


def with_origin(err: ConfigError, resolved: ResolvedConfig) -> ConfigError:
    """``err`` naming where its key's value came from (``flag --volume``), if it does not."""
    if err.source or not err.key:
        return err
    origin = next((e.origin for e in resolved.entries if e.key.key == err.key), "")
    return ConfigError(err.problem, source=origin, key=err.key, value=err.value)

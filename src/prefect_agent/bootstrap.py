"""The composition root: builds an agent from a validated ``AgentConfig`` and the ports it is
given (real adapters for the others), and runs it.

Only this module (and the CLI) knows every adapter. Platform adapters are imported lazily,
so a local agent never loads the docker or kubernetes clients. Each adapter package exposes
``from_config(config)`` on its port implementation:

- ``adapters.graphql.run_source.GraphQLRunSource.from_config(config)``
- ``adapters.local.platform.LocalPlatform.from_config(config)``
- ``adapters.docker.platform.DockerPlatform.from_config(config)``
- ``adapters.kubernetes.platform.KubernetesPlatform.from_config(config)``
- ``adapters.ecs.platform.ECSPlatform.from_config(config)``
- ``adapters.vertex.platform.VertexPlatform.from_config(config)``
- ``adapters.health.server.HttpHealthReporter.from_config(config, wake=...)``

Ports are given one way: an ``AdapterOverrides`` (the facades' ``overrides=``, the CLI's
click context object, ``build_agent``'s second argument). What runs around the agent lives
beside it: the configuration it is built from (``effective_config``), the signal handling
(``signals``), the log handler (``log_output``) and the Prefect 1 facades (``facades``).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from prefect_agent import extras
from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.effective_config import checked_config
from prefect_agent.log_output import configure_logging
from prefect_agent.ports import Clock, ConfigSource, HealthReporter, Platform, RunSource
from prefect_agent.services.agent import AgentService
from prefect_agent.services.masking import masked
from prefect_agent.signals import run_until_signalled


@attrs.frozen(kw_only=True)
class AdapterOverrides:
    """Ports to use instead of the real adapters (tests, embedding); ``None`` builds the real
    one from the configuration."""

    source: RunSource | None = None
    platform: Platform | None = None
    clock: Clock | None = None
    health: HealthReporter | None = None


def platform_for(config: AgentConfig) -> Platform:
    if config.kind is PlatformKind.LOCAL:
        from prefect_agent.adapters.local.platform import LocalPlatform

        return LocalPlatform.from_config(config)
    if config.kind is PlatformKind.DOCKER:
        extras.require("docker", needed_by="the Docker agent")
        from prefect_agent.adapters.docker.platform import DockerPlatform

        return DockerPlatform.from_config(config)
    if config.kind is PlatformKind.ECS:
        extras.require("ecs", needed_by="the ECS agent")
        from prefect_agent.adapters.ecs.platform import ECSPlatform

        return ECSPlatform.from_config(config)
    if config.kind is PlatformKind.VERTEX:
        extras.require("vertex", needed_by="the Vertex agent")
        from prefect_agent.adapters.vertex.platform import VertexPlatform

        return VertexPlatform.from_config(config)
    extras.require("kubernetes", needed_by="the Kubernetes agent")
    from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform

    return KubernetesPlatform.from_config(config)


def source_for(config: AgentConfig, *, claimant: str = "") -> RunSource:
    """The GraphQL source; its claims carry ``claimant`` (the platform's durable name for
    this agent) so a restarted agent finds the runs it claimed and never launched."""
    from prefect_agent.adapters.graphql.run_source import GraphQLRunSource

    return GraphQLRunSource.from_config(config, claimant=claimant)


def build_agent(config: AgentConfig, overrides: AdapterOverrides | None = None) -> AgentService:
    """An ``AgentService`` with the ports in ``overrides`` and real adapters for the others.

    With ``agent_address`` set and no ``health`` given, the HTTP health server reports on it
    (``run_until_signalled`` starts and stops it).
    """
    given = overrides or AdapterOverrides()
    clock = given.clock or SystemClock()
    health = given.health
    agent: AgentService | None = None
    if health is None and config.agent_address is not None:
        from prefect_agent.adapters.health.server import HttpHealthReporter

        # /api/poke reaches the agent built just below.
        health = HttpHealthReporter.from_config(
            config,
            wake=lambda: agent.wake() if agent else None,
            now=clock.now,
            monotonic=clock.monotonic,
        )
    platform = given.platform if given.platform is not None else platform_for(config)
    source = given.source
    if source is None:
        source = source_for(config, claimant=getattr(platform, "claimant", ""))
    agent = AgentService(
        config=config,
        source=masked(source, config.secrets),
        platform=platform,
        clock=clock,
        health=health,
    )
    return agent


def start_from_layers(
    kind: PlatformKind,
    layers: Sequence[ConfigSource],
    overrides: AdapterOverrides | None = None,
) -> AgentConfig:
    """Resolve ``layers``, build the agent and run it until a signal or ``max_polls``.

    A bad value raises ``ConfigError`` before anything starts. Returns the config it ran with.
    """
    config = checked_config(kind, layers).config
    run_configured(config, overrides)
    return config


def run_configured(config: AgentConfig, overrides: AdapterOverrides | None = None) -> None:
    """Set up logging, build the agent (real adapters unless overridden) and run it."""
    configure_logging(config)
    run_until_signalled(build_agent(config, overrides))

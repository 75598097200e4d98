"""The composition root: builds an agent from a validated ``AgentConfig`` and runs it.

Only this module (and the CLI) knows every adapter. Platform adapters are imported lazily,
so a local agent never loads the docker or kubernetes clients. Each adapter package exposes
``from_config(config)`` on its port implementation:

- ``adapters.graphql.run_source.GraphQLRunSource.from_config(config)``
- ``adapters.local.platform.LocalPlatform.from_config(config)``
- ``adapters.docker.platform.DockerPlatform.from_config(config)``
- ``adapters.kubernetes.platform.KubernetesPlatform.from_config(config)``
- ``adapters.health.server.HttpHealthReporter.from_config(config, wake=...)``
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.ports import Clock, HealthReporter, Platform, RunSource
from prefect_agent.services.agent import AgentService

logger = logging.getLogger(__name__)


def platform_for(config: AgentConfig) -> Platform:
    if config.kind is PlatformKind.LOCAL:
        from prefect_agent.adapters.local.platform import LocalPlatform

        return LocalPlatform.from_config(config)
    if config.kind is PlatformKind.DOCKER:
        from prefect_agent.adapters.docker.platform import DockerPlatform

        return DockerPlatform.from_config(config)
    from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform

    return KubernetesPlatform.from_config(config)


def source_for(config: AgentConfig) -> RunSource:
    from prefect_agent.adapters.graphql.run_source import GraphQLRunSource

    return GraphQLRunSource.from_config(config)


def build_agent(
    config: AgentConfig,
    *,
    source: RunSource | None = None,
    platform: Platform | None = None,
    clock: Clock | None = None,
    health: HealthReporter | None = None,
) -> AgentService:
    """An ``AgentService`` with real adapters for whatever was not passed in."""
    return AgentService(
        config=config,
        source=source if source is not None else source_for(config),
        platform=platform if platform is not None else platform_for(config),
        clock=clock or SystemClock(),
        health=health,
    )


def run_until_signalled(agent: AgentService) -> None:
    """Run ``agent`` with SIGINT and SIGTERM both stopping it gracefully.

    Handlers are installed only on the main thread (Python allows no other) and restored
    afterwards, so embedding code keeps its own.
    """
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _stopper(agent))
    try:
        agent.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopper(agent: AgentService) -> Callable[[int, Any], None]:
    def handle(signum: int, _frame: Any) -> None:
        logger.info("%s received; shutting down", signal.Signals(signum).name)
        agent.stop()

    return handle

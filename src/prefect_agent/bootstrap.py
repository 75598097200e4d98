"""The composition root: builds an agent from a validated ``AgentConfig`` and runs it.

Only this module (and the CLI) knows every adapter. Platform adapters are imported lazily,
so a local agent never loads the docker or kubernetes clients. Each adapter package exposes
``from_config(config)`` on its port implementation:

- ``adapters.graphql.run_source.GraphQLRunSource.from_config(config)``
- ``adapters.local.platform.LocalPlatform.from_config(config)``
- ``adapters.docker.platform.DockerPlatform.from_config(config)``
- ``adapters.kubernetes.platform.KubernetesPlatform.from_config(config)``
- ``adapters.health.server.HttpHealthReporter.from_config(config, wake=...)``

It also holds the Python facades of Prefect 1 (``LocalAgent``, ``DockerAgent``,
``KubernetesAgent``), which build their ``AgentConfig`` from the layered configuration
(defaults, user file, environment, then their arguments), and ``start_from_layers``, which the
CLI calls with its flags as the top layer.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs

from prefect_agent import extras
from prefect_agent.adapters.config import ArgumentSource, ResolvedConfig, resolve, standard_layers
from prefect_agent.adapters.config.keys import Section
from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.errors import ConfigError
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.log_output import log_handler
from prefect_agent.ports import Clock, ConfigSource, HealthReporter, Platform, RunSource
from prefect_agent.services.agent import AgentService

logger = logging.getLogger(__name__)


def platform_for(config: AgentConfig) -> Platform:
    if config.kind is PlatformKind.LOCAL:
        from prefect_agent.adapters.local.platform import LocalPlatform

        return LocalPlatform.from_config(config)
    if config.kind is PlatformKind.DOCKER:
        extras.require("docker", needed_by="the Docker agent")
        from prefect_agent.adapters.docker.platform import DockerPlatform

        return DockerPlatform.from_config(config)
    extras.require("kubernetes", needed_by="the Kubernetes agent")
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
    """An ``AgentService`` with real adapters for whatever was not passed in.

    With ``agent_address`` set and no ``health`` given, the HTTP health server reports on it
    (``run_until_signalled`` starts and stops it).
    """
    clock = clock or SystemClock()
    agent: AgentService | None = None
    if health is None and config.agent_address is not None:
        from prefect_agent.adapters.health.server import HttpHealthReporter

        # /api/poke reaches the agent built just below.
        health = HttpHealthReporter.from_config(
            config, wake=lambda: agent.wake() if agent else None, now=clock.now
        )
    agent = AgentService(
        config=config,
        source=source if source is not None else source_for(config),
        platform=platform if platform is not None else platform_for(config),
        clock=clock,
        health=health,
    )
    return agent


def run_until_signalled(agent: AgentService) -> None:
    """Run ``agent`` with SIGINT and SIGTERM both stopping it gracefully.

    Handlers are installed only on the main thread (Python allows no other) and restored
    afterwards, so embedding code keeps its own.
    """
    health = _http_health(agent)
    if health is not None:
        health.start()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _stopper(agent))
    try:
        agent.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if health is not None:
            health.stop()


def _http_health(agent: AgentService) -> Any:
    """The agent's HTTP health server, if it has one (it is started and stopped with the run).

    If the server module was never imported no such reporter can exist; importing it only to
    find that out would cost every agent without ``--agent-address`` start-up time."""
    server = sys.modules.get("prefect_agent.adapters.health.server")
    if server is None or not isinstance(agent.health, server.HttpHealthReporter):
        return None
    return agent.health


def _stopper(
    agent: AgentService, exit_now: Callable[[int], Any] = os._exit
) -> Callable[[int, Any], None]:
    def handle(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if agent.stopping:
            # A second signal means "now": skip the rest of the drain.
            logger.warning("%s received again; exiting without waiting for launches", name)
            logging.shutdown()
            # SystemExit would still wait for the launch pool's threads at interpreter exit.
            exit_now(128 + signum)
        logger.info(
            "%s received; draining (up to %ss for launches in progress)",
            name,
            agent.config.shutdown_grace_seconds,
        )
        agent.stop()

    return handle


# -- layered configuration ------------------------------------------------------------------

DOCKER_DESKTOP = "docker-desktop"
LOG_FORMAT = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"


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


def configure_logging(config: AgentConfig) -> None:
    """Agent log lines to stdout at the configured level, timestamps in UTC (as Prefect 1).

    The handler installed by an earlier call is replaced, so it always writes to the current
    ``sys.stdout``; handlers added by embedding code are left alone.
    """
    logger = logging.getLogger("prefect_agent")
    logger.setLevel(config.log_level)
    for old in [h for h in logger.handlers if getattr(h, _OWN_HANDLER, False)]:
        logger.removeHandler(old)
    # Text or JSON lines, the API key masked, repeated errors counted (log_output).
    handler = log_handler(config, sys.stdout)
    setattr(handler, _OWN_HANDLER, True)
    logger.addHandler(handler)


_OWN_HANDLER = "_prefect_agent_cli"


@attrs.frozen(kw_only=True)
class AdapterOverrides:
    """Ports to use instead of the real adapters (tests, embedding): see ``build_agent``."""

    source: RunSource | None = None
    platform: Platform | None = None
    clock: Clock | None = None
    health: HealthReporter | None = None


def start_from_layers(
    kind: PlatformKind,
    layers: Sequence[ConfigSource],
    overrides: AdapterOverrides | None = None,
) -> AgentConfig:
    """Resolve ``layers``, build the agent and run it until a signal or ``max_polls``.

    A bad value raises ``ConfigError`` before anything starts. Returns the config it ran with.
    """
    config = checked_config(kind, layers).config
    run_configured(config, overrides or AdapterOverrides())
    return config


def run_configured(config: AgentConfig, ports: AdapterOverrides) -> None:
    """Set up logging, build the agent (real adapters unless overridden) and run it."""
    configure_logging(config)
    run_until_signalled(
        build_agent(
            config,
            source=ports.source,
            platform=ports.platform,
            clock=ports.clock,
            health=ports.health,
        )
    )


# -- the Prefect 1 facades ------------------------------------------------------------------


class _Agent:
    """What the three facades share: configuration at construction, ``start()`` to run.

    Besides the Prefect 1.4.1 arguments, each facade takes keyword ``**options``: any setting
    by its field name (``api="http://server:4200"``, ``api_key=...``,
    ``flow_run_command=[...]``); ``source``, ``platform``, ``clock`` and ``health`` to replace
    the real adapters; ``environ`` to replace ``os.environ`` as the environment layer.
    """

    kind: ClassVar[PlatformKind]

    def __init__(
        self,
        arguments: Mapping[str, Any],
        *,
        source: RunSource | None = None,
        platform: Platform | None = None,
        clock: Clock | None = None,
        health: HealthReporter | None = None,
        environ: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> None:
        given = {**arguments, **settings}
        no_cloud_logs = given.pop("no_cloud_logs", None)
        if no_cloud_logs is not None:
            given["send_flow_run_logs"] = not no_cloud_logs
        layers = standard_layers(self.kind, ArgumentSource(self.kind, given), environ=environ)
        self.resolved = effective_config(self.kind, layers)
        self.overrides = AdapterOverrides(
            source=source, platform=platform, clock=clock, health=health
        )

    @property
    def config(self) -> AgentConfig:
        return self.resolved.config

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def labels(self) -> list[str]:
        return list(self.config.labels)

    @property
    def env_vars(self) -> dict[str, str]:
        return dict(self.config.env_vars)

    def start(self) -> None:
        """Run the agent until SIGINT, SIGTERM or ``max_polls``."""
        run_configured(self.config, self.overrides)


# 1.4.1 defaults of boolean arguments that mean "not given", so the file and environment decide.
_DEFAULT_MEANS_UNSET = {
    "show_flow_logs": False,
    "hostname_label": True,
    "delete_finished_jobs": True,
}


def _arguments(frame: Mapping[str, Any]) -> dict[str, Any]:
    """A facade's own arguments from its ``locals()``, with "not given" defaults dropped."""
    arguments = {
        name: value
        for name, value in frame.items()
        if name not in ("self", "options") and not name.startswith("__")
    }
    for name, default in _DEFAULT_MEANS_UNSET.items():
        if name in arguments and arguments[name] is default:
            arguments[name] = None
    return arguments


class LocalAgent(_Agent):
    """Runs each flow run as a local subprocess (Prefect 1.4.1 ``LocalAgent``)."""

    kind = PlatformKind.LOCAL

    def __init__(
        self,
        agent_config_id: str | None = None,
        name: str | None = None,
        labels: Iterable[str] | None = None,
        env_vars: Mapping[str, str] | None = None,
        max_polls: int | None = None,
        agent_address: str | None = None,
        no_cloud_logs: bool | None = None,
        import_paths: Iterable[str] | None = None,
        show_flow_logs: bool = False,
        hostname_label: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(_arguments(locals()), **options)


class DockerAgent(_Agent):
    """Runs each flow run in a Docker container (Prefect 1.4.1 ``DockerAgent``)."""

    kind = PlatformKind.DOCKER

    def __init__(
        self,
        agent_config_id: str | None = None,
        name: str | None = None,
        labels: Iterable[str] | None = None,
        env_vars: Mapping[str, str] | None = None,
        max_polls: int | None = None,
        agent_address: str | None = None,
        no_cloud_logs: bool | None = None,
        base_url: str | None = None,
        no_pull: bool | None = None,
        volumes: Iterable[str] | None = None,
        show_flow_logs: bool = False,
        networks: Iterable[str] | None = None,
        reg_allow_list: Iterable[str] | None = None,
        docker_client_timeout: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(_arguments(locals()), **options)


class KubernetesAgent(_Agent):
    """Runs each flow run as a Kubernetes Job (Prefect 1.4.1 ``KubernetesAgent``)."""

    kind = PlatformKind.KUBERNETES

    def __init__(
        self,
        agent_config_id: str | None = None,
        namespace: str | None = None,
        service_account_name: str | None = None,
        image_pull_secrets: Iterable[str] | None = None,
        job_template_path: str | None = None,
        name: str | None = None,
        labels: Iterable[str] | None = None,
        env_vars: Mapping[str, str] | None = None,
        max_polls: int | None = None,
        agent_address: str | None = None,
        no_cloud_logs: bool | None = None,
        volume_mounts: list[dict[str, Any]] | None = None,
        volumes: list[dict[str, Any]] | None = None,
        delete_finished_jobs: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(_arguments(locals()), **options)

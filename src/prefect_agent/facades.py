"""The Python facades of Prefect 1.4.1's agents: ``LocalAgent``, ``DockerAgent``,
``KubernetesAgent``, ``ECSAgent`` and ``VertexAgent`` (imported from ``prefect_agent``).

Each is one shape: its 1.4.1 positional arguments in 1.4.1's order (``PREFECT1_ARGUMENTS``),
then any setting by its field name as a keyword (``api="http://server:4200"``,
``api_key=...``, ``flow_run_command=[...]``). The arguments are the top configuration layer
above defaults, the user file and the environment; the configuration keys decide which
settings an agent type takes, so a facade lists only its 1.4.1 order.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from prefect_agent.adapters.config import ArgumentSource, standard_layers
from prefect_agent.bootstrap import AdapterOverrides, run_configured
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.effective_config import effective_config

# 1.4.1 defaults of boolean arguments that mean "not given", so the file and environment decide.
_DEFAULT_MEANS_UNSET = {
    "show_flow_logs": False,
    "hostname_label": True,
    "delete_finished_jobs": True,
}

# What every 1.4.1 agent takes, in the order its subclasses list them.
_COMMON = (
    "name",
    "labels",
    "env_vars",
    "max_polls",
    "agent_address",
    "no_cloud_logs",
)


class _Agent:
    """What the facades share: configuration at construction, ``start()`` to run.

    ``overrides`` (an ``AdapterOverrides``) replaces real adapters with given ports (tests,
    embedding); ``environ`` replaces ``os.environ`` as the environment layer.
    """

    kind: ClassVar[PlatformKind]
    PREFECT1_ARGUMENTS: ClassVar[tuple[str, ...]]
    """The arguments 1.4.1's constructor takes positionally, in its order."""

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        # help() and IDEs show the 1.4.1 arguments rather than *args, **kwargs.
        cls.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
                for name in cls.PREFECT1_ARGUMENTS
            ]
            + [
                inspect.Parameter("overrides", inspect.Parameter.KEYWORD_ONLY, default=None),
                inspect.Parameter("environ", inspect.Parameter.KEYWORD_ONLY, default=None),
                inspect.Parameter("settings", inspect.Parameter.VAR_KEYWORD),
            ]
        )

    def __init__(
        self,
        *arguments: Any,
        overrides: AdapterOverrides | None = None,
        environ: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> None:
        names = self.PREFECT1_ARGUMENTS
        if len(arguments) > len(names):
            raise TypeError(
                f"{type(self).__name__}() takes at most {len(names)} positional arguments "
                f"({len(arguments)} given)"
            )
        given = dict(zip(names, arguments, strict=False))
        for name, value in settings.items():
            if name in given:
                raise TypeError(f"{type(self).__name__}() got multiple values for {name!r}")
            given[name] = value
        for name, default in _DEFAULT_MEANS_UNSET.items():
            if name in given and given[name] is default:
                given[name] = None
        no_cloud_logs = given.pop("no_cloud_logs", None)
        if no_cloud_logs is not None:
            given["send_flow_run_logs"] = not no_cloud_logs
        layers = standard_layers(self.kind, ArgumentSource(self.kind, given), environ=environ)
        self.resolved = effective_config(self.kind, layers)
        self.overrides = overrides or AdapterOverrides()

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


class LocalAgent(_Agent):
    """Runs each flow run as a local subprocess (Prefect 1.4.1 ``LocalAgent``)."""

    kind = PlatformKind.LOCAL
    PREFECT1_ARGUMENTS = (
        "agent_config_id",
        *_COMMON,
        "import_paths",
        "show_flow_logs",
        "hostname_label",
    )


class DockerAgent(_Agent):
    """Runs each flow run in a Docker container (Prefect 1.4.1 ``DockerAgent``)."""

    kind = PlatformKind.DOCKER
    PREFECT1_ARGUMENTS = (
        "agent_config_id",
        *_COMMON,
        "base_url",
        "no_pull",
        "volumes",
        "show_flow_logs",
        "networks",
        "reg_allow_list",
        "docker_client_timeout",
    )


class KubernetesAgent(_Agent):
    """Runs each flow run as a Kubernetes Job (Prefect 1.4.1 ``KubernetesAgent``)."""

    kind = PlatformKind.KUBERNETES
    PREFECT1_ARGUMENTS = (
        "agent_config_id",
        "namespace",
        "service_account_name",
        "image_pull_secrets",
        "job_template_path",
        *_COMMON,
        "volume_mounts",
        "volumes",
        "delete_finished_jobs",
    )


class ECSAgent(_Agent):
    """Runs each flow run as an ECS task (Prefect 1.4.1 ``ECSAgent``; the ``ecs`` extra)."""

    kind = PlatformKind.ECS
    PREFECT1_ARGUMENTS = (
        "agent_config_id",
        *_COMMON,
        "task_definition_path",
        "run_task_kwargs_path",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "region_name",
        "cluster",
        "launch_type",
        "task_role_arn",
        "execution_role_arn",
        "botocore_config",
    )


class VertexAgent(_Agent):
    """Runs each flow run as a Vertex AI custom job (Prefect 1.4.1 ``VertexAgent``; the
    ``vertex`` extra)."""

    kind = PlatformKind.VERTEX
    PREFECT1_ARGUMENTS = (
        "project",
        "region_name",
        "service_account",
        "agent_config_id",
        *_COMMON,
    )

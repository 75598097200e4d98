"""What to start for one run: command, image, working directory and environment.

The environment is built in Prefect 1.4.1's precedence (later wins):

1. the platform's base (local: a copy of the agent's environment plus PYTHONPATH;
   Docker: the API address as seen from a container), supplied at launch time;
2. ``PREFECT__LOGGING__LEVEL`` from the agent's ``flow_log_level``;
3. the agent's ``env_vars`` (``--env``);
4. the run config's ``env``;
5. the send-logs rule: when the agent disabled flow-run logs, or nothing set the variable,
   ``PREFECT__CLOUD__SEND_FLOW_RUN_LOGS`` is the agent's setting (a run may turn logs off,
   never on against the agent);
6. fixed built-ins that nothing can override (run and flow ids, API, backend, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from prefect_agent.domain.agent_config import AgentConfig, env_names_repr, masked_url_repr
from prefect_agent.domain.ecs_run_config import ECSRun
from prefect_agent.domain.errors import LaunchError
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.frozen import frozen_map
from prefect_agent.domain.images import flow_image
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.run_config import (
    DockerRun,
    KubernetesRun,
    LocalRun,
    RunConfig,
    select_run_config,
)
from prefect_agent.domain.secret import Secret
from prefect_agent.domain.vertex_run_config import VertexRun

PlatformRunConfig = LocalRun | DockerRun | KubernetesRun | ECSRun | VertexRun
# ECS puts the image variable in the task definition, Vertex not at all (as Prefect 1.4.1).
_IMAGE_IN_ENVIRONMENT = frozenset({PlatformKind.DOCKER, PlatformKind.KUBERNETES})

SEND_LOGS = "PREFECT__CLOUD__SEND_FLOW_RUN_LOGS"
FLOW_RUNNER_CLASS = "prefect.engine.cloud.CloudFlowRunner"
DEFAULT_COMMAND = ("prefect", "execute", "flow-run")
LEGACY_COMMAND = ("prefect", "execute", "cloud-flow")


def _version_tuple(version: str) -> tuple[int, ...]:
    head = version.split("+", 1)[0]
    parts = []
    for piece in head.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def default_command(core_version: str | None) -> tuple[str, ...]:
    """``prefect execute flow-run``; flows built with core < 0.13.0 used ``cloud-flow``."""
    if core_version and _version_tuple(core_version) < (0, 13, 0):
        return LEGACY_COMMAND
    return DEFAULT_COMMAND


@attrs.frozen(kw_only=True)
class LaunchSpec:
    """Everything a platform needs to start one run. Its repr never shows the API key."""

    run_id: str
    flow_id: str
    run_name: str
    kind: PlatformKind
    run_config: PlatformRunConfig
    command: tuple[str, ...]
    image: str | None = None
    working_dir: str | None = None
    backend: str = "server"
    api: str = attrs.field(default="", repr=masked_url_repr)
    api_key: Secret | None = None
    tenant_id: str | None = None
    agent_labels: tuple[str, ...] = ()
    flow_log_level: str = "INFO"
    send_flow_run_logs: bool = True
    agent_env: Mapping[str, str] = attrs.field(
        factory=dict, converter=frozen_map, repr=env_names_repr
    )

    def builtins(self) -> dict[str, str | None]:
        """The fixed variables (step 6); ``None`` removes one. The API key appears here and
        only here."""
        key = self.api_key.reveal() if self.api_key else None
        tenant = self.tenant_id if key else None
        local = self.kind is PlatformKind.LOCAL
        # In Prefect 1.4.1's Kubernetes order: a Job's variables may refer to earlier ones.
        fixed: dict[str, str | None] = {
            "PREFECT__BACKEND": self.backend,
            "PREFECT__CLOUD__AGENT__LABELS": repr(list(self.agent_labels)),
        }
        if self.kind is not PlatformKind.DOCKER:
            # Docker puts the API address in its base layer so users can override it.
            fixed["PREFECT__CLOUD__API"] = self.api
        fixed |= {
            # The local agent removes unset credentials rather than writing empty strings.
            "PREFECT__CLOUD__API_KEY": key if local else key or "",
            "PREFECT__CLOUD__TENANT_ID": tenant if local else tenant or "",
            "PREFECT__CLOUD__USE_LOCAL_SECRETS": "false",
            "PREFECT__CONTEXT__FLOW_RUN_ID": self.run_id,
            "PREFECT__CONTEXT__FLOW_ID": self.flow_id,
        }
        if self.kind in _IMAGE_IN_ENVIRONMENT:
            fixed["PREFECT__CONTEXT__IMAGE"] = self.image or ""
        fixed["PREFECT__ENGINE__FLOW_RUNNER__DEFAULT_CLASS"] = FLOW_RUNNER_CLASS
        if not local:
            # Container images older than Prefect 0.15 / 1.0 read these older names.
            fixed["PREFECT__LOGGING__LOG_TO_CLOUD"] = str(self.send_flow_run_logs).lower()
            fixed["PREFECT__CLOUD__AUTH_TOKEN"] = key or ""
        return fixed

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The run's complete environment over the platform's ``base`` (step 1)."""
        env: dict[str, str | None] = dict(base or {})
        env["PREFECT__LOGGING__LEVEL"] = self.flow_log_level
        env.update(self.agent_env)
        env.update(self.run_config.env or {})
        if not self.send_flow_run_logs or SEND_LOGS not in env:
            env[SEND_LOGS] = str(self.send_flow_run_logs).lower()
        env.update(self.builtins())
        # A None from the run config, or an unset credential of the local agent, removes the
        # variable (an inherited API key must not reach a run the agent gives none).
        return {name: value for name, value in env.items() if value is not None}

    def __repr__(self) -> str:
        return (
            f"LaunchSpec(run_id={self.run_id!r}, kind={self.kind.value}, "
            f"command={list(self.command)!r}, image={self.image!r}, "
            f"working_dir={self.working_dir!r})"
        )


def platform_run_config(
    run_config: RunConfig | None, storage_type: str | None, kind: PlatformKind, *, run_id: str
) -> PlatformRunConfig:
    """The run config a ``kind`` platform launches the run with, or a ``LaunchError`` saying
    why it cannot launch it (``IncompatibleRunConfig`` for another platform's run config).

    The one launchability rule: the deployer applies it through ``build_launch_spec`` and
    ``explain`` applies it to say whether the run would launch or be failed.
    """
    selected = select_run_config(run_config, kind.run_config_type, run_id=run_id)
    if kind is PlatformKind.LOCAL and storage_type == "Docker":
        raise LaunchError(
            f"Flow run {run_id} uses Docker storage, which a local agent cannot run; "
            "use a Docker or Kubernetes agent"
        )
    return selected


def build_launch_spec(
    run: FlowRun,
    config: AgentConfig,
    *,
    tenant_id: str | None,
    default_command_prefix: Sequence[str] = (),
) -> LaunchSpec:
    """The LaunchSpec for ``run`` on this agent, or a ``LaunchError`` saying why it cannot run.

    ``default_command_prefix`` goes before ``prefect execute flow-run`` when the agent has no
    ``flow_run_command`` of its own (the local platform passes ``<python> -m``).
    """
    kind = config.kind
    run_config = platform_run_config(run.run_config, run.storage_type, kind, run_id=run.id)
    if config.flow_run_command is not None:
        command = config.flow_run_command
    else:
        command = tuple(default_command_prefix) + default_command(run.core_version)
    image = None
    if kind.runs_containers:
        assert isinstance(run_config, (DockerRun, KubernetesRun, ECSRun, VertexRun))
        image = flow_image(run, run_config.image)
    working_dir = run_config.working_dir if isinstance(run_config, LocalRun) else None
    return LaunchSpec(
        run_id=run.id,
        flow_id=run.flow_id,
        run_name=run.display_name,
        kind=kind,
        run_config=run_config,
        command=command,
        image=image,
        working_dir=working_dir,
        backend=config.backend,
        api=config.api,
        api_key=config.api_key,
        tenant_id=tenant_id if tenant_id is not None else config.tenant_id,
        agent_labels=config.labels,
        flow_log_level=config.flow_log_level,
        send_flow_run_logs=config.send_flow_run_logs,
        agent_env=config.env_vars,
    )

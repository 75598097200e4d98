"""Run configs: the closed set of types a flow run can ask for, and which platform takes which.

Field names and meanings follow Prefect 1.4.1's serialized run configs. A ``UniversalRun``
converts to whatever the agent runs; any other mismatch is an ``IncompatibleRunConfig``.

``env`` values may be ``None``: as with Prefect 1.4.1's agents, such a variable is left out of
the run's environment even when the agent's environment or ``--env`` had it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from prefect_agent.domain.ecs_run_config import ECSRun
from prefect_agent.domain.errors import IncompatibleRunConfig
from prefect_agent.domain.frozen import optional_frozen_map, sorted_unique, str_tuple
from prefect_agent.domain.vertex_run_config import VertexRun

IMAGE_PULL_POLICIES = ("Always", "IfNotPresent", "Never")

RunEnv = Mapping[str, str | None]
"""A run config's variables; ``None`` removes the variable from the run's environment."""


@attrs.frozen(kw_only=True)
class UniversalRun:
    """Runs anywhere: only environment variables and labels."""

    env: RunEnv | None = attrs.field(default=None, converter=optional_frozen_map)
    labels: tuple[str, ...] = attrs.field(default=(), converter=sorted_unique)


@attrs.frozen(kw_only=True)
class LocalRun:
    """A local subprocess; ``working_dir`` is its current directory and first PYTHONPATH entry."""

    env: RunEnv | None = attrs.field(default=None, converter=optional_frozen_map)
    labels: tuple[str, ...] = attrs.field(default=(), converter=sorted_unique)
    working_dir: str | None = None


@attrs.frozen(kw_only=True)
class DockerRun:
    """A Docker container. ``host_config`` takes docker-py ``create_host_config`` arguments."""

    env: RunEnv | None = attrs.field(default=None, converter=optional_frozen_map)
    labels: tuple[str, ...] = attrs.field(default=(), converter=sorted_unique)
    image: str | None = None
    ports: tuple[int, ...] = attrs.field(default=(), converter=tuple)
    host_config: Mapping[str, Any] | None = attrs.field(default=None, converter=optional_frozen_map)


def _check_pull_policy(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in IMAGE_PULL_POLICIES:
        raise ValueError(
            f"{attribute.name} must be one of {', '.join(IMAGE_PULL_POLICIES)}, not {value!r}"
        )


@attrs.frozen(kw_only=True)
class KubernetesRun:
    """A Kubernetes Job built from a template plus these overrides."""

    env: RunEnv | None = attrs.field(default=None, converter=optional_frozen_map)
    labels: tuple[str, ...] = attrs.field(default=(), converter=sorted_unique)
    job_template_path: str | None = None
    job_template: Mapping[str, Any] | None = attrs.field(
        default=None, converter=optional_frozen_map
    )
    image: str | None = None
    cpu_limit: str | None = None
    cpu_request: str | None = None
    memory_limit: str | None = None
    memory_request: str | None = None
    service_account_name: str | None = None
    image_pull_secrets: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    image_pull_policy: str | None = attrs.field(default=None, validator=_check_pull_policy)

    def __attrs_post_init__(self) -> None:
        if self.job_template is not None and self.job_template_path is not None:
            raise ValueError("job_template and job_template_path cannot both be set")


RunConfig = UniversalRun | LocalRun | DockerRun | KubernetesRun | ECSRun | VertexRun
"""Any run config this agent understands."""

RUN_CONFIG_TYPES: Mapping[str, type[RunConfig]] = {
    cls.__name__: cls
    for cls in (UniversalRun, LocalRun, DockerRun, KubernetesRun, ECSRun, VertexRun)
}
"""The wire ``type`` name of each run config class."""

R = TypeVar("R", bound=LocalRun | DockerRun | KubernetesRun | ECSRun | VertexRun)


def select_run_config(run_config: RunConfig | None, accepted: type[R], *, run_id: str) -> R:
    """The run config a platform that runs ``accepted`` should use for this run.

    ``None`` means all defaults; a ``UniversalRun`` keeps its env and labels; a different
    concrete type cannot run here and raises ``IncompatibleRunConfig`` with a clear reason.
    """
    if run_config is None:
        return accepted()
    if isinstance(run_config, accepted):
        return run_config
    if isinstance(run_config, UniversalRun):
        return accepted(env=run_config.env, labels=run_config.labels)
    raise IncompatibleRunConfig(
        f"Flow run {run_id} has a run config of type {type(run_config).__name__}; "
        f"this agent runs only {accepted.__name__} (or UniversalRun)"
    )

"""Settings only the Docker platform uses."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

import attrs

from prefect_agent.domain.frozen import str_tuple
from prefect_agent.domain.launch_policy import DOCKER_PERMISSIONS
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.validators import non_empty_strings, non_negative, positive, subset_of

PullPolicy = Literal["Prefect1", "IfNotPresent", "Always", "Never"]
"""``Prefect1``: Prefect 1.4.1's rule, pull an image whose name has a ``/`` before every run and
never pull one without."""
ContainerRemoval = Literal["always", "on-success", "never"]
PULL_POLICIES: tuple[str, ...] = get_args(PullPolicy)
CONTAINER_REMOVAL: tuple[str, ...] = get_args(ContainerRemoval)


def _optional_tuple(value: object) -> tuple[str, ...] | None:
    return None if value is None else str_tuple(value)  # type: ignore[arg-type]


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} must be one of {', '.join(choices)}, not {value!r}")

    return check


@attrs.frozen(kw_only=True)
class DockerSettings:
    kind: ClassVar[PlatformKind] = PlatformKind.DOCKER

    base_url: str | None = attrs.field(
        default=None,
        metadata={"help": "Docker engine URL; unset uses DOCKER_HOST, then the local socket"},
    )
    """Docker engine URL; None falls back to DOCKER_HOST, then the local socket."""
    no_pull: bool = attrs.field(
        default=False, metadata={"help": "Never pull images (same as pull_policy Never)"}
    )
    pull_policy: PullPolicy = attrs.field(
        default="Prefect1",
        validator=_one_of(PULL_POLICIES),
        metadata={
            "help": "When to pull a run's image (Prefect1: before every run if its name has a /)"
        },
    )
    volumes: tuple[str, ...] = attrs.field(
        default=(),
        converter=str_tuple,
        validator=non_empty_strings,
        metadata={"help": "Volumes for every container, docker-CLI syntax (/host:/ctr[:ro])"},
    )
    """docker-CLI volume specs: ``/host:/container[:mode]`` or ``name:/container``."""
    show_flow_logs: bool = attrs.field(
        default=False,
        metadata={"help": "Print each container's output, prefixed with the run name"},
    )
    networks: tuple[str, ...] = attrs.field(
        default=(),
        converter=str_tuple,
        validator=non_empty_strings,
        metadata={"help": "Networks to attach containers to (host or none set network mode)"},
    )
    reg_allow_list: tuple[str, ...] | None = attrs.field(
        default=None,
        converter=_optional_tuple,
        metadata={"help": "Registry hosts images may come from (docker.io for Docker Hub)"},
    )
    """Registries images may be pulled from (constructor-only, as in Prefect 1)."""
    docker_client_timeout: float = attrs.field(
        default=60,
        validator=positive,
        metadata={"help": "Seconds to wait for an answer from the Docker engine"},
    )
    container_api_url: str | None = attrs.field(
        default=None,
        metadata={"help": "API address given to containers; unset rewrites a localhost API"},
    )
    """The API address given to containers; None rewrites a localhost API automatically."""
    container_removal: ContainerRemoval = attrs.field(
        default="always",
        validator=_one_of(CONTAINER_REMOVAL),
        metadata={"help": "When to remove ended containers, once their exit status is read"},
    )
    """Ended containers are removed after their exit status and last lines were read."""
    run_host_config_permissions: tuple[str, ...] = attrs.field(
        default=(),
        converter=str_tuple,
        validator=subset_of(DOCKER_PERMISSIONS),
        metadata={
            "help": "What a run config's host_config may use: "
            + ", ".join(DOCKER_PERMISSIONS)
            + " (default: none of them; docs/security.md)."
        },
    )
    """Host-escaping host_config options run configs may use (``domain/launch_policy.py``)."""
    stop_grace_seconds: float = attrs.field(
        default=10.0,
        validator=non_negative,
        metadata={"help": "Seconds between SIGTERM and SIGKILL when a run's container is stopped"},
    )
    """How long a cancelled run's container may take to exit after SIGTERM before SIGKILL."""

    @property
    def effective_pull_policy(self) -> str:
        """``no_pull`` (``--no-pull``) wins over ``pull_policy``."""
        return "Never" if self.no_pull else self.pull_policy

"""Settings only the Docker platform uses."""

from __future__ import annotations

from typing import ClassVar

import attrs

from prefect_agent.domain.frozen import str_tuple
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.validators import non_empty_strings, positive


def _optional_tuple(value: object) -> tuple[str, ...] | None:
    return None if value is None else str_tuple(value)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class DockerSettings:
    kind: ClassVar[PlatformKind] = PlatformKind.DOCKER

    base_url: str | None = None
    """Docker engine URL; None falls back to DOCKER_HOST, then the local socket."""
    no_pull: bool = False
    volumes: tuple[str, ...] = attrs.field(
        default=(), converter=str_tuple, validator=non_empty_strings
    )
    """docker-CLI volume specs: ``/host:/container[:mode]`` or ``name:/container``."""
    show_flow_logs: bool = False
    networks: tuple[str, ...] = attrs.field(
        default=(), converter=str_tuple, validator=non_empty_strings
    )
    reg_allow_list: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_tuple)
    """Registries images may be pulled from (constructor-only, as in Prefect 1)."""
    docker_client_timeout: float = attrs.field(default=60, validator=positive)
    container_api_url: str | None = None
    """The API address given to containers; None rewrites a localhost API automatically."""

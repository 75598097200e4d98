"""``ECSRun``: a flow run as an ECS task, with the fields Prefect 1.4.1 serializes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from prefect_agent.domain.frozen import optional_frozen_map, sorted_unique


def _optional_text(value: object) -> str | None:
    # Prefect 1.4.1 stores cpu and memory as strings whether given as 1024 or "1 vcpu".
    return None if value is None else str(value)


@attrs.frozen(kw_only=True)
class ECSRun:
    """An ECS task: a task definition (inline, at a path, or registered under an ARN) plus
    ``run_task`` keyword arguments; the flow runs in the container named ``flow``."""

    env: Mapping[str, str] | None = attrs.field(default=None, converter=optional_frozen_map)
    labels: tuple[str, ...] = attrs.field(default=(), converter=sorted_unique)
    task_definition: Mapping[str, Any] | None = attrs.field(
        default=None, converter=optional_frozen_map
    )
    task_definition_path: str | None = None
    task_definition_arn: str | None = None
    image: str | None = None
    cpu: str | None = attrs.field(default=None, converter=_optional_text)
    memory: str | None = attrs.field(default=None, converter=_optional_text)
    task_role_arn: str | None = None
    execution_role_arn: str | None = None
    run_task_kwargs: Mapping[str, Any] | None = attrs.field(
        default=None, converter=optional_frozen_map
    )

    def __attrs_post_init__(self) -> None:
        given = [
            name
            for name in ("task_definition", "task_definition_path", "task_definition_arn")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"only one of {', '.join(given)} can be set")
        if self.task_definition_arn is not None and self.image is not None:
            raise ValueError(
                "task_definition_arn and image cannot both be set: a registered task "
                "definition fixes its image"
            )

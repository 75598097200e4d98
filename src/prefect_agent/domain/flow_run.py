"""A flow run as the agent sees it: identity, state, version, labels and run config."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from prefect_agent.domain.frozen import frozen_map, sorted_unique
from prefect_agent.domain.run_config import RunConfig
from prefect_agent.domain.states import is_scheduled


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"datetimes must be timezone-aware, got {value.isoformat()}")
    return value


@attrs.frozen(kw_only=True)
class TaskRun:
    """A task run of a Running flow run that is due for a retry (its scheduled time passed)."""

    id: str
    version: int
    task_id: str = ""
    state: str = "Retrying"
    serialized_state: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_map)


@attrs.frozen(kw_only=True)
class FlowRun:
    """One flow run read from the API at ``version``.

    ``state`` is the state's class name (``Scheduled``, ``Running``, ...) and
    ``serialized_state`` its full JSON, which a Submitted state embeds. ``start_time`` is
    the start time of a Scheduled-family state (None means "now"). ``task_runs_due`` holds
    task runs waiting for a retry when the flow run itself is already Running.
    """

    id: str
    version: int
    state: str
    flow_id: str = ""
    flow_name: str = ""
    flow_version: int | None = None
    name: str = ""
    serialized_state: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_map)
    start_time: datetime | None = attrs.field(default=None, converter=_aware)
    labels: tuple[str, ...] = attrs.field(default=(), converter=sorted_unique)
    run_config: RunConfig | None = None
    core_version: str | None = None
    storage_type: str | None = None
    storage_image: str | None = None
    task_runs_due: tuple[TaskRun, ...] = attrs.field(default=(), converter=tuple)

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def is_retry(self) -> bool:
        """A Running flow run redeployed because some of its task runs are due for a retry."""
        return not is_scheduled(self.state) and bool(self.task_runs_due)

    def due_at(self, now: datetime) -> datetime:
        """When this run should be launched: its scheduled start time, or now."""
        return self.start_time if self.start_time is not None else now

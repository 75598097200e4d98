"""``VertexRun``: a flow run as a Vertex AI custom job, as Prefect 1.4.1 serializes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from prefect_agent.domain.frozen import frozen_map, optional_frozen_map, sorted_unique

DEFAULT_MACHINE_TYPE = "e2-standard-4"


def _pool_specs(
    value: Sequence[Mapping[str, Any]] | None,
) -> tuple[Mapping[str, Any], ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ValueError(f"worker_pool_specs must be a list of objects, not {value!r:.80}")
    for index, spec in enumerate(value):
        if not isinstance(spec, Mapping):
            raise ValueError(f"worker_pool_specs[{index}] must be an object, not {spec!r:.80}")
    return tuple(frozen_map(spec) for spec in value)


@attrs.frozen(kw_only=True)
class VertexRun:
    """A Vertex AI ``CustomJob``; the flow runs in the first worker pool's container."""

    env: Mapping[str, str] | None = attrs.field(default=None, converter=optional_frozen_map)
    labels: tuple[str, ...] = attrs.field(default=(), converter=sorted_unique)
    image: str | None = None
    machine_type: str | None = DEFAULT_MACHINE_TYPE
    scheduling: Mapping[str, Any] | None = attrs.field(default=None, converter=optional_frozen_map)
    service_account: str | None = None
    network: str | None = None
    worker_pool_specs: tuple[Mapping[str, Any], ...] | None = attrs.field(
        default=None, converter=_pool_specs
    )

    def __attrs_post_init__(self) -> None:
        if self.worker_pool_specs is not None and not self.worker_pool_specs:
            raise ValueError("worker_pool_specs must hold at least one pool when set")

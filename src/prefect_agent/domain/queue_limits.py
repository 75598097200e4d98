"""How many runs ``get_runs_in_queue`` examines and returns per call: Prefect Server's
limits, shared by the embedded API and the in-memory fake."""

from __future__ import annotations

import attrs

PREFECT_SERVER_SCAN_LIMIT = 75
PREFECT_SERVER_RETURN_LIMIT = 25


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, not {value!r}")


@attrs.frozen
class QueueLimits:
    """``scan``: earliest eligible runs examined before the label filter (tenant-wide);
    ``returned``: ids handed to one agent per call.

    Prefect Server uses 75 and 25 (``QueueLimits.prefect_server()``): many late runs of other
    labels can then starve an agent, and a burst of 1000 runs needs 40 polls. The embedded
    API's defaults examine 10 000 and return 1 000, so one poll takes a whole burst.
    """

    scan: int = attrs.field(default=10_000, validator=_positive)
    returned: int = attrs.field(default=1_000, validator=_positive)

    @classmethod
    def prefect_server(cls) -> QueueLimits:
        return cls(scan=PREFECT_SERVER_SCAN_LIMIT, returned=PREFECT_SERVER_RETURN_LIMIT)

    def __attrs_post_init__(self) -> None:
        if self.returned > self.scan:
            raise ValueError(
                f"the return limit ({self.returned}) cannot exceed the scan limit ({self.scan})"
            )

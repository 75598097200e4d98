"""Settings only the local (subprocess) platform uses."""

from __future__ import annotations

from typing import ClassVar

import attrs

from prefect_agent.domain.frozen import str_tuple
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.validators import non_empty_strings


@attrs.frozen(kw_only=True)
class LocalSettings:
    kind: ClassVar[PlatformKind] = PlatformKind.LOCAL

    import_paths: tuple[str, ...] = attrs.field(
        default=(), converter=str_tuple, validator=non_empty_strings
    )
    """Added to each run's PYTHONPATH after the working directory (``--import-path``)."""
    show_flow_logs: bool = False
    """Stream each run's output to the agent's stdout, prefixed with the run name."""
    hostname_label: bool = True
    """Add this machine's host name to the agent's labels (``--no-hostname-label`` opts out)."""
    state_dir: str | None = None
    """Where the agent records the processes it started, to find them after a restart."""

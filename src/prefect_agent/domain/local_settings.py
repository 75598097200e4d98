"""Settings only the local (subprocess) platform uses."""

from __future__ import annotations

from typing import ClassVar

import attrs

from prefect_agent.domain.frozen import str_tuple
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.validators import non_empty_strings, non_negative, positive


@attrs.frozen(kw_only=True)
class LocalSettings:
    kind: ClassVar[PlatformKind] = PlatformKind.LOCAL

    import_paths: tuple[str, ...] = attrs.field(
        default=(),
        converter=str_tuple,
        validator=non_empty_strings,
        metadata={"help": "Add a path to each run's PYTHONPATH, after its working directory."},
    )
    """Added to each run's PYTHONPATH after the working directory (``--import-path``)."""
    show_flow_logs: bool = attrs.field(
        default=False,
        metadata={"help": "Stream each run's output to the agent's stdout, prefixed by run name."},
    )
    """Stream each run's output to the agent's stdout, prefixed with the run name."""
    hostname_label: bool = attrs.field(
        default=True,
        metadata={"help": "Add this machine's host name to the agent's labels."},
    )
    """Add this machine's host name to the agent's labels (``--no-hostname-label`` opts out)."""
    state_dir: str | None = attrs.field(
        default=None,
        metadata={
            "help": "Where to record started runs to find them after a restart "
            "(default ~/.prefect/agents/local/<agent name>)."
        },
    )
    """Where the agent records the processes it started, to find them after a restart."""
    output_tail_lines: int = attrs.field(
        default=20,
        validator=non_negative,
        metadata={"help": "How many last output lines of a failed run go to its logs."},
    )
    """The last lines of a failed run's output written to its logs with the exit code."""
    stop_grace_seconds: float = attrs.field(
        default=10.0,
        validator=non_negative,
        metadata={"help": "Seconds between SIGTERM and SIGKILL when a run is stopped."},
    )
    """How long a stopped run may take to exit after SIGTERM before it is killed."""
    output_max_bytes: int = attrs.field(
        default=64 * 1024 * 1024,
        validator=positive,
        metadata={
            "help": "Bytes of output kept per run on the agent's disk; beyond it only the "
            "tail is kept."
        },
    )
    """Each run's output file is kept within this size, its tail kept (``output_cap.py``)."""

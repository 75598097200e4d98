"""The last lines a run wrote, for the failure reason in its logs."""

from __future__ import annotations

import os

_TAIL_BYTES = 16 * 1024


def last_lines(path: str | os.PathLike[str], count: int) -> tuple[str, ...]:
    """Up to ``count`` last non-empty lines of the file (empty when it is missing)."""
    if count <= 0:
        return ()
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            data = handle.read()
    except OSError:
        return ()
    lines = data.decode("utf-8", errors="replace").splitlines()
    if len(data) == _TAIL_BYTES and lines:
        lines = lines[1:]  # the first line was cut by the window
    return tuple(line for line in lines if line.strip())[-count:]

"""``--show-flow-logs``: copy each run's output to the agent's stdout, line by line, prefixed.

Children write to files, never to a pipe the agent must drain, so a slow or stopped agent
can never block (or, when it exits, kill) a flow run. One thread pumps all files.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TextIO

import attrs

from prefect_agent.domain.output_lines import LineSplitter

_CHUNK = 64 * 1024
_READS_PER_PUMP = 16
"""At most this many chunks per run and pump: one flooding run cannot starve the others."""


@attrs.define
class _Followed:
    prefix: str
    fd: int
    lines: LineSplitter = attrs.field(factory=LineSplitter)


class FlowLogStream:
    """Follows output files; ``pump()`` writes the complete lines written since the last call.

    ``\\r`` ends a line too and a partial line is cut at ``MAX_LINE_BYTES``, so a progress bar
    costs no memory however long it runs; ``mask`` hides secrets a run prints.
    """

    def __init__(self, sink: TextIO, mask: Callable[[str], str] = lambda text: text) -> None:
        self._sink = sink
        self._mask = mask
        self._followed: dict[str, _Followed] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._followed)

    def follow(self, run_id: str, path: str | os.PathLike[str], run_name: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        with self._lock:
            previous = self._followed.pop(run_id, None)
            self._followed[run_id] = _Followed(prefix=f"[{run_name}] ", fd=fd)
        if previous is not None:
            os.close(previous.fd)

    def pump(self) -> None:
        with self._lock:
            followed = list(self._followed.values())
        lines: list[str] = []
        for item in followed:
            lines.extend(self._read_lines(item, final=False))
        self._write(lines)

    def finish(self, run_id: str) -> None:
        """Write what is left of a run that ended (its last line may lack a newline)."""
        with self._lock:
            item = self._followed.pop(run_id, None)
        if item is None:
            return
        try:
            self._write(self._read_lines(item, final=True))
        finally:
            os.close(item.fd)

    def close(self) -> None:
        with self._lock:
            items, self._followed = list(self._followed.values()), {}
        for item in items:
            os.close(item.fd)

    def _read_lines(self, item: _Followed, *, final: bool) -> list[str]:
        lines: list[str] = []
        for _ in range(_READS_PER_PUMP if not final else 1 << 30):
            try:
                chunk = os.read(item.fd, _CHUNK)
            except OSError:
                break
            if not chunk:
                break
            lines.extend(item.lines.feed(chunk))
        if final:
            lines.extend(item.lines.finish())
        return [item.prefix + self._mask(line) for line in lines]

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        try:
            self._sink.write("\n".join(lines) + "\n")
            self._sink.flush()
        except (OSError, ValueError):
            pass  # a closed stdout must not stop the agent from watching its runs

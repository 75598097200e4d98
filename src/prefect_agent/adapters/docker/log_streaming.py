"""``--show-flow-logs``: each container's output, line by line, prefixed with the run name.

One daemon thread per running container (not one process per run, as in Prefect 1.4.1);
a thread ends when its container's log stream ends, i.e. when the container stops, or when
the platform closes.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prefect_agent.domain.output_lines import split_lines

logger = logging.getLogger(__name__)

_stdout_lock = threading.Lock()


def write_to_stdout(line: str) -> None:
    with _stdout_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class FlowLogStreamer:
    """Follows container logs in threads; ``open_stream(container_id)`` gives the chunks."""

    def __init__(
        self,
        open_stream: Callable[[str], Iterable[bytes]],
        write: Callable[[str], None] = write_to_stdout,
        mask: Callable[[str], str] = lambda text: text,
    ) -> None:
        self._open_stream = open_stream
        self._write = write
        self._mask = mask
        self._streams: dict[str, Any] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closed = False

    def follow(self, container_id: str, prefix: str) -> None:
        """Start streaming one container (once; a second call for it does nothing)."""
        with self._lock:
            if self._closed or container_id in self._threads:
                return
            thread = threading.Thread(
                target=self._pump,
                args=(container_id, prefix),
                name=f"flow-logs-{container_id[:12]}",
                daemon=True,
            )
            self._threads[container_id] = thread
        thread.start()

    def active(self) -> list[str]:
        with self._lock:
            return [cid for cid, t in self._threads.items() if t.is_alive()]

    def _pump(self, container_id: str, prefix: str) -> None:
        try:
            stream = self._open_stream(container_id)
            with self._lock:
                closed = self._closed
                if not closed:
                    self._streams[container_id] = stream
            if closed:  # close() ran while the stream was being opened
                getattr(stream, "close", lambda: None)()
                return
            for line in split_lines(stream):
                self._write(f"[{prefix}] {self._mask(line)}")
        except Exception as exc:  # the container vanished or the engine went away
            if not self._closed:
                logger.debug("Log stream of container %s ended: %s", container_id[:12], exc)
        finally:
            with self._lock:
                self._streams.pop(container_id, None)
                self._threads.pop(container_id, None)

    def close(self, timeout: float = 2.0) -> None:
        """Stop every stream; the containers themselves keep running."""
        with self._lock:
            self._closed = True
            streams = list(self._streams.values())
            threads = list(self._threads.values())
        for stream in streams:
            closer = getattr(stream, "close", None)
            if closer is not None:
                try:
                    closer()
                except Exception:  # closing a broken stream must not stop the shutdown
                    logger.debug("Error closing a log stream", exc_info=True)
        for thread in threads:
            thread.join(timeout)

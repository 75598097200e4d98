"""The background thread a platform adapter runs its periodic sync on, started on first need."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class SyncThread:
    """Runs ``action`` every ``interval`` seconds on one daemon thread until ``close``.

    Platform adapters start it lazily (the first launch, outcome read or adoption), so a
    platform that is built and closed without being used starts no thread. An exception out
    of ``action`` is logged and the loop goes on: a bug in one pass must not end monitoring
    for good. ``stopped`` is the event the adapter's own waits (retry back-off) also honour.
    """

    def __init__(
        self, name: str, action: Callable[[], None], interval: Callable[[], float], what: str
    ) -> None:
        self._name = name
        self._action = action
        self._interval = interval
        self._what = what
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is not None or self.stopped.is_set():
                return
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def close(self, timeout: float) -> None:
        """Stop the loop and wait up to ``timeout`` seconds for a pass in progress."""
        self.stopped.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                self._action()
            except Exception:  # a bug here must not end monitoring for good
                logger.exception("Unexpected error while watching %s", self._what)
            self.stopped.wait(self._interval())

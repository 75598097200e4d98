"""The loop the embedded API's background services share (Lazarus, the scheduler, the zombie
killer): one pass every ``interval`` seconds on a daemon thread until ``stop()``."""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

logger = logging.getLogger(__name__)


class PeriodicService:
    """Calls ``sweep()`` every ``interval`` seconds, then ``report(result)``. A pass that
    raises is logged and the next one runs as usual: a background service must never take
    the API down with it."""

    thread_name: ClassVar[str]

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> Any:
        raise NotImplementedError

    def report(self, result: Any) -> None:
        """Log what a pass did, if anything worth saying (nothing by default)."""

    def start(self) -> PeriodicService:
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = self.sweep()
            except Exception:
                logger.exception("%s pass failed", self.thread_name)
                continue
            self.report(result)

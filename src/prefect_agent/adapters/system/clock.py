"""The real clock: UTC wall time, monotonic time for intervals, and waits that end early when
their event is set (``Event.wait`` measures its timeout on the monotonic clock)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(timeout)

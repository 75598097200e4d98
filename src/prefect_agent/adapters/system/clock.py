"""The real clock: UTC wall time, and waits that end early when their event is set."""

from __future__ import annotations

import threading
from datetime import datetime, timezone


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(timeout)

"""Counts of the requests the embedded API served, by root field (for benchmarks and tests)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable


class RequestStats:
    """Thread-safe counters: ``requests`` in all, and ``fields`` by root field name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self._fields: Counter[str] = Counter()

    def record(self, root_fields: Iterable[str]) -> None:
        with self._lock:
            self.requests += 1
            self._fields.update(root_fields)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {"requests": self.requests, "fields": dict(self._fields)}

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self._fields.clear()

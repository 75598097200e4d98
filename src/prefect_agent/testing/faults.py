"""Fault switches for the fakes: fail the next N calls of a method, or delay them."""

from __future__ import annotations

import threading
from collections import Counter


class Faults:
    """Per-method faults, shared by ``InMemoryRunSource`` and ``FakePlatform``.

    ``fail_next("claim", 2, ApiUnavailable("down"))`` makes the next two ``claim`` calls raise;
    ``delay("launch", 0.5)`` makes every ``launch`` take half a (real) second longer, for
    concurrency tests. ``calls`` counts every call by method name.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[BaseException]] = {}
        self._delays: dict[str, float] = {}
        self.calls: Counter[str] = Counter()

    def fail_next(self, method: str, count: int, error: BaseException) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend([error] * count)

    def delay(self, method: str, seconds: float) -> None:
        with self._lock:
            self._delays[method] = seconds

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def enter(self, method: str) -> None:
        """Called at the start of every faked method: count, delay, maybe raise."""
        with self._lock:
            self.calls[method] += 1
            pending = self._failures.get(method)
            error = pending.pop(0) if pending else None
            delay = self._delays.get(method, 0.0)
        if delay:
            threading.Event().wait(delay)
        if error is not None:
            raise error

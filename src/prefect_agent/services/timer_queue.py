"""Items waiting for their due time, served by one thread instead of a thread per item."""

from __future__ import annotations

import heapq
import itertools
import threading
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class TimerQueue(Generic[T]):
    """A thread-safe min-heap of (due time, item). Equal due times keep insertion order."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, T]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def push(self, due: datetime, item: T) -> None:
        with self._lock:
            heapq.heappush(self._heap, (due, next(self._seq), item))

    def pop_due(self, now: datetime) -> list[T]:
        """Remove and return every item due at or before ``now``, earliest first."""
        due: list[T] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[2])
        return due

    def next_due(self) -> datetime | None:
        with self._lock:
            return self._heap[0][0] if self._heap else None

    def drain(self) -> list[T]:
        """Remove and return everything, due or not."""
        with self._lock:
            items = [entry[2] for entry in sorted(self._heap)]
            self._heap.clear()
        return items

    def __len__(self) -> int:
        with self._lock:
            return len(self._heap)

"""Runs this agent is deploying right now, so no run is deployed twice concurrently."""

from __future__ import annotations

import threading
from collections.abc import Iterable


class InFlightRuns:
    """A thread-safe set of run ids, reserved *before* any work is scheduled for them.

    Reserving and filtering happen in one step under one lock, so the window Prefect 1 had
    (an id added after its deployment could already have finished) cannot occur.
    """

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()
        self.idle = threading.Event()
        """Set whenever nothing is in flight (waited on by shutdown and drain)."""
        self.idle.set()

    def reserve(self, run_ids: Iterable[str]) -> list[str]:
        """Reserve the ids not already in flight and return them, in the given order."""
        fresh: list[str] = []
        with self._lock:
            for run_id in run_ids:
                if run_id not in self._ids:
                    self._ids.add(run_id)
                    fresh.append(run_id)
            if self._ids:
                self.idle.clear()
        return fresh

    def release(self, run_id: str) -> None:
        with self._lock:
            self._ids.discard(run_id)
            if not self._ids:
                self.idle.set()

    def ids(self) -> frozenset[str]:
        """A snapshot of the ids in flight now."""
        with self._lock:
            return frozenset(self._ids)

    def __contains__(self, run_id: object) -> bool:
        with self._lock:
            return run_id in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

"""Switchable faults of the embedded API, for reliability tests: errors, delays, resets, outages.

Each request consults ``ServerFaults.next_fault()`` before it is handled. Faults are queued
(``fail``, ``malformed``, ``reset``, ``delay``, ``lose_answer``: the next N requests) or
standing (``down()`` until ``up()``; ``random_failures(rate)``), and are thread-safe.
"""

from __future__ import annotations

import random
import threading
from collections import deque

import attrs

EXEMPT_HEADER = "X-Embedded-Api-Helper"
"""Requests carrying this header (the test helpers' own) get no faults and are not counted."""


@attrs.frozen
class Fault:
    """What to do to one request.

    ``kind``: ``status`` (answer ``status`` with a JSON error, ``Retry-After`` when
    ``retry_after`` is set), ``malformed`` (200 with a body that is not JSON), ``reset`` (close
    the connection without answering, before handling), ``lose_answer`` (handle the request,
    then close without answering: the client cannot know it was applied), ``delay`` (wait
    ``seconds`` before handling).
    """

    kind: str
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0


class ServerFaults:
    """The fault plan of one server. All methods may be called from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._down: Fault | None = None
        self._rate = 0.0
        self._random = random.Random(0)
        self._random_fault = Fault("status", status=503)
        self.injected = 0
        """How many requests a fault was applied to."""

    def fail(self, times: int = 1, status: int = 503, retry_after: float | None = None) -> None:
        self._push(Fault("status", status=status, retry_after=retry_after), times)

    def malformed(self, times: int = 1) -> None:
        self._push(Fault("malformed"), times)

    def reset(self, times: int = 1) -> None:
        self._push(Fault("reset"), times)

    def lose_answer(self, times: int = 1) -> None:
        self._push(Fault("lose_answer"), times)

    def delay(self, seconds: float, times: int = 1) -> None:
        self._push(Fault("delay", seconds=seconds), times)

    def down(self, kind: str = "reset", status: int = 503) -> None:
        """Every request fails (connection reset, or ``kind="status"``) until ``up()``."""
        with self._lock:
            self._down = Fault(kind, status=status)

    def up(self) -> None:
        with self._lock:
            self._down = None

    def random_failures(self, rate: float, *, seed: int = 0, fault: Fault | None = None) -> None:
        """Fail each request with probability ``rate`` (0 turns it off), reproducibly."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {rate!r}")
        with self._lock:
            self._rate = rate
            self._random = random.Random(seed)
            self._random_fault = fault or Fault("status", status=503)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._down = None
            self._rate = 0.0

    def next_fault(self) -> Fault | None:
        with self._lock:
            fault = self._down
            if fault is None and self._queue:
                fault = self._queue.popleft()
            if fault is None and self._rate and self._random.random() < self._rate:
                fault = self._random_fault
            if fault is not None:
                self.injected += 1
            return fault

    def _push(self, fault: Fault, times: int) -> None:
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times!r}")
        with self._lock:
            self._queue.extend([fault] * times)

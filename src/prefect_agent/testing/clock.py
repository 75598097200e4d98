"""A clock that moves only when told to (or, with ``auto_advance``, jumps to each deadline)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

EPOCH = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)

_POLL = 0.002  # real seconds between checks of a waiter's event; bounded, never a test sleep


class FakeClock:
    """Implements the ``Clock`` port with time you control.

    - ``advance(seconds)`` moves time (wall and monotonic) forward and releases waits whose
      deadline passed.
    - ``jump(seconds)`` steps the wall clock only, either way (an NTP step, a VM resumed):
      ``monotonic()`` and waits are unaffected, as with the system's clocks.
    - ``auto_advance=True``: a wait with a timeout returns at once after moving time to its
      deadline, so code that waits runs to completion in milliseconds.
    - ``waiters`` counts threads blocked in ``wait``; ``wait_for_waiters(n)`` blocks (in
      real time, bounded) until that many are, so tests can advance at the right moment.
    """

    def __init__(self, start: datetime = EPOCH, *, auto_advance: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start
        self._monotonic = 0.0
        self.auto_advance = auto_advance
        self._cond = threading.Condition()
        self.waiters = 0

    def now(self) -> datetime:
        with self._cond:
            return self._now

    def monotonic(self) -> float:
        with self._cond:
            return self._monotonic

    def advance(self, seconds: float) -> datetime:
        with self._cond:
            self._now += timedelta(seconds=seconds)
            self._monotonic += seconds
            self._cond.notify_all()
            return self._now

    def jump(self, seconds: float) -> datetime:
        with self._cond:
            self._now += timedelta(seconds=seconds)
            self._cond.notify_all()
            return self._now

    def set(self, when: datetime) -> None:
        with self._cond:
            if when < self._now:
                raise ValueError("FakeClock cannot go backwards")
            self._monotonic += (when - self._now).total_seconds()
            self._now = when
            self._cond.notify_all()

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        if event.is_set():
            return True
        with self._cond:
            deadline = None if timeout is None else self._monotonic + timeout
            if self.auto_advance and deadline is not None:
                if deadline > self._monotonic:
                    self._now += timedelta(seconds=deadline - self._monotonic)
                    self._monotonic = deadline
                    self._cond.notify_all()
                return event.is_set()
            self.waiters += 1
            try:
                while not event.is_set():
                    if deadline is not None and self._monotonic >= deadline:
                        return False
                    self._cond.wait(_POLL)
                return True
            finally:
                self.waiters -= 1

    def wait_for_waiters(self, count: int, real_timeout: float = 10.0) -> None:
        """Block until ``count`` threads are waiting on this clock (``TimeoutError`` if not)."""
        end = threading.Event()
        timer = threading.Timer(real_timeout, end.set)
        timer.start()
        try:
            with self._cond:
                while self.waiters < count:
                    if end.is_set():
                        raise TimeoutError(
                            f"{self.waiters} waiters after {real_timeout}s, wanted {count}"
                        )
                    self._cond.wait(_POLL)
        finally:
            timer.cancel()

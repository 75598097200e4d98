"""A log filter that lets the first of identical warnings through in full, then counts."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

import attrs

MAX_TRACKED = 512
"""Distinct messages remembered at once; the oldest is forgotten first."""


@attrs.define
class _Seen:
    first: float
    suppressed: int = 0


class RepeatedErrorFilter(logging.Filter):
    """Rate-limits identical WARNING-and-above records (same logger, level and text).

    The first one passes unchanged (with its traceback). Identical ones within
    ``window_seconds`` of it are dropped and counted. The next one after the window passes
    as a summary, ``<message> (repeated N times in the last Ns)``, without the traceback
    already shown, and opens a new window. Time comes from the records themselves, so an
    outage that logs the same error on every poll writes a line a minute, not thousands.
    ``window_seconds`` 0 lets everything through.
    """

    def __init__(self, window_seconds: float) -> None:
        super().__init__()
        self._window = window_seconds
        self._seen: OrderedDict[tuple[str, int, str], _Seen] = OrderedDict()
        # Re-entrant: a signal handler that logs may interrupt this very filter.
        self._lock = threading.RLock()

    def filter(self, record: logging.LogRecord) -> bool:
        if self._window <= 0 or record.levelno < logging.WARNING:
            return True
        try:
            key = (record.name, record.levelno, record.getMessage())
        except Exception:  # a malformed record is logging's to report, not ours to drop
            return True
        with self._lock:
            seen = self._seen.get(key)
            if seen is None:
                self._remember(key, record.created)
                return True
            if record.created - seen.first < self._window:
                seen.suppressed += 1
                return False
            suppressed, elapsed = seen.suppressed, record.created - seen.first
            self._remember(key, record.created)
        if suppressed:
            record.msg = f"{key[2]} (repeated {suppressed + 1} times in the last {elapsed:.0f}s)"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True

    def _remember(self, key: tuple[str, int, str], created: float) -> None:
        self._seen[key] = _Seen(first=created)
        self._seen.move_to_end(key)
        while len(self._seen) > MAX_TRACKED:
            self._seen.popitem(last=False)

"""Identical warnings are logged once, then counted."""

from __future__ import annotations

import logging
import sys

from prefect_agent.log_output.repeated_errors import MAX_TRACKED, RepeatedErrorFilter


def record(
    msg: str, created: float, level: int = logging.ERROR, *args: object
) -> logging.LogRecord:
    rec = logging.LogRecord("prefect_agent.x", level, __file__, 1, msg, args or None, None)
    rec.created = created
    return rec


def test_first_passes_repeats_are_counted_and_summarised_after_the_window() -> None:
    f = RepeatedErrorFilter(60)
    assert f.filter(record("API down: %s", 0.0, logging.ERROR, "refused"))
    assert [
        f.filter(record("API down: %s", t, logging.ERROR, "refused")) for t in range(1, 60)
    ] == [False] * 59
    summary = record("API down: %s", 61.0, logging.ERROR, "refused")
    assert f.filter(summary)
    assert summary.getMessage() == "API down: refused (repeated 60 times in the last 61s)"
    # A new window starts with the summary.
    assert not f.filter(record("API down: %s", 62.0, logging.ERROR, "refused"))


def test_a_lone_repeat_after_the_window_passes_unchanged() -> None:
    f = RepeatedErrorFilter(10)
    assert f.filter(record("boom", 0.0))
    later = record("boom", 20.0)
    assert f.filter(later)
    assert later.getMessage() == "boom"


def test_different_messages_levels_and_info_are_independent() -> None:
    f = RepeatedErrorFilter(60)
    assert f.filter(record("a", 0.0))
    assert f.filter(record("b", 1.0))
    assert f.filter(record("a", 2.0, logging.WARNING))
    assert f.filter(record("a", 3.0, logging.INFO))
    assert f.filter(record("a", 4.0, logging.INFO))
    assert not f.filter(record("a", 5.0))


def test_summary_drops_the_traceback_already_shown() -> None:
    f = RepeatedErrorFilter(5)
    try:
        raise RuntimeError("x")
    except RuntimeError:
        exc = sys.exc_info()
    first = record("failed", 0.0)
    first.exc_info = exc
    assert f.filter(first) and first.exc_info is exc
    assert not f.filter(record("failed", 1.0))
    summary = record("failed", 6.0)
    summary.exc_info = exc
    assert f.filter(summary)
    assert summary.exc_info is None


def test_window_zero_lets_everything_through() -> None:
    f = RepeatedErrorFilter(0)
    assert all(f.filter(record("same", float(t))) for t in range(5))


def test_memory_is_bounded() -> None:
    f = RepeatedErrorFilter(60)
    for i in range(MAX_TRACKED + 10):
        f.filter(record(f"message {i}", 0.0))
    assert len(f._seen) == MAX_TRACKED
    assert f.filter(record("message 0", 1.0))  # forgotten, so it passes again

"""Timestamps as the embedded API stores them: UTC ISO 8601 text that sorts as time does."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def to_text(value: datetime) -> str:
    """Canonical stored form; naive datetimes are taken as UTC (as Prefect Server does)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse(text: str) -> datetime:
    """An ISO 8601 string (``Z`` or an offset, or naive UTC) as an aware datetime.

    Raises ``ValueError`` naming the text when it is not a timestamp.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 timestamp string, got {text!r}")
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def normalize(text: str) -> str:
    return to_text(parse(text))

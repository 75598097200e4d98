"""Prefect 1.4.1 schedules, as ``Schedule.serialize()`` writes them, evaluated without Prefect:
the next start times (with each clock's parameter defaults and labels) of a flow's clocks.

Clocks: ``IntervalClock``, ``CronClock`` (five fields, ``*``, lists, ranges, steps, month and
day names, ``day_or``) and ``DatesClock``, each with its start and end date and time zone.
Schedule filters and adjustments (Python functions named in the serialized schedule) are not
evaluated: a schedule that has any is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFECT_DEFAULT_START = datetime(2019, 1, 1, tzinfo=timezone.utc)
"""Where an IntervalClock without a start date counts from (as in Prefect 1.x)."""


class ScheduleError(ValueError):
    """A serialized schedule this module cannot evaluate (the message says why)."""


@dataclass(frozen=True)
class Event:
    start_time: datetime
    parameter_defaults: Mapping[str, Any] = field(default_factory=dict)
    labels: list[str] | None = None


def _zone(name: Any) -> Any:
    if not name:
        return timezone.utc
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}") from None


def _moment(value: Any) -> datetime | None:
    """A serialized ``{"dt": ..., "tz": ...}`` (or ISO text) as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        naive = datetime.fromisoformat(str(value.get("dt")))
        return naive.replace(tzinfo=_zone(value.get("tz"))) if naive.tzinfo is None else naive
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# -- cron ------------------------------------------------------------------------------------

_NAMES = {
    **{
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
    **{d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
_ALIASES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}  # fmt: skip
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _field(text: str, low: int, high: int, cron: str) -> tuple[frozenset[int], bool]:
    """The values a cron field allows, and whether it is restricted (not ``*``)."""
    values: set[int] = set()
    for part in text.lower().split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body in ("*", ""):
                start, end = low, high
            elif "-" in body:
                first, last = body.split("-", 1)
                start, end = int(_NAMES.get(first, first)), int(_NAMES.get(last, last))
            else:
                start = int(_NAMES.get(body, body))
                end = high if step_text else start
        except ValueError:
            raise ScheduleError(f"cron {cron!r}: cannot read field {text!r}") from None
        if step < 1 or start < low or end > high or start > end:
            raise ScheduleError(f"cron {cron!r}: field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values), text != "*"


class Cron:
    def __init__(self, expression: str, day_or: bool = True) -> None:
        text = _ALIASES.get(expression.strip().lower(), expression)
        parts = text.split()
        if len(parts) != 5:
            raise ScheduleError(f"cron {expression!r}: expected 5 fields, got {len(parts)}")
        fields = [_field(p, lo, hi, expression) for p, (lo, hi) in zip(parts, _BOUNDS, strict=True)]
        (self.minutes, _), (self.hours, _), (self.days, self.days_set), (self.months, _) = fields[
            :4
        ]
        weekdays, self.weekdays_set = fields[4]
        self.weekdays = frozenset(d % 7 for d in weekdays)  # 7 is Sunday too
        self.day_or = day_or

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.days_set and self.weekdays_set:
            return in_month or in_week if self.day_or else in_month and in_week
        return in_month and in_week

    def after(self, moment: datetime) -> Iterator[datetime]:
        """Matching times strictly after ``moment``, in ``moment``'s time zone."""
        zone = moment.tzinfo
        day = moment.date()
        for _ in range(366 * 8):  # a valid expression matches within a few years
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                        if wall > moment:
                            yield wall
            day += timedelta(days=1)


# -- clocks ----------------------------------------------------------------------------------


def _clock_events(clock: Mapping[str, Any], after: datetime) -> Iterator[datetime]:
    kind = clock.get("type")
    start = _moment(clock.get("start_date"))
    end = _moment(clock.get("end_date"))
    if kind == "IntervalClock":
        interval = timedelta(microseconds=int(clock.get("interval") or 0))
        if interval <= timedelta(0):
            raise ScheduleError("IntervalClock: interval must be positive")
        origin = start or PREFECT_DEFAULT_START
        if interval < timedelta(days=1):
            # Sub-day intervals count in absolute time; longer ones keep the wall clock time.
            origin = origin.astimezone(timezone.utc)
        skip = max(0, int((after - origin) // interval))
        moment = origin + interval * skip
        while True:
            if moment > after and (end is None or moment <= end):
                yield moment
            elif end is not None and moment > end:
                return
            moment = origin + interval * (skip := skip + 1)
    elif kind == "CronClock":
        cron = Cron(str(clock.get("cron") or ""), bool(clock.get("day_or", True)))
        zone = start.tzinfo if start else timezone.utc
        since = max(after, start - timedelta(microseconds=1)) if start else after
        for moment in cron.after(since.astimezone(zone)):
            if end is not None and moment > end:
                return
            yield moment
    elif kind == "DatesClock":
        for value in sorted(filter(None, (_moment(d) for d in clock.get("dates") or []))):
            if value > after:
                yield value
    else:
        raise ScheduleError(f"clock type {kind!r} is not supported")


def next_events(schedule: Mapping[str, Any], count: int, after: datetime) -> list[Event]:
    """The next ``count`` events of a serialized schedule after ``after``, earliest first."""
    for unsupported in ("filters", "or_filters", "not_filters", "adjustments"):
        if schedule.get(unsupported):
            raise ScheduleError(f"schedule {unsupported} are not supported by the embedded API")
    clocks = schedule.get("clocks") or []
    if not isinstance(clocks, list):
        raise ScheduleError("schedule 'clocks' must be a list")
    events: list[Event] = []
    for clock in clocks:
        if not isinstance(clock, Mapping):
            raise ScheduleError("a schedule clock must be an object")
        for index, moment in enumerate(_clock_events(clock, after)):
            if index >= count:
                break
            events.append(
                Event(
                    moment.astimezone(timezone.utc),
                    dict(clock.get("parameter_defaults") or {}),
                    clock.get("labels"),
                )
            )
    events.sort(key=lambda e: e.start_time)
    unique: list[Event] = []
    for event in events:
        if not unique or unique[-1] != event:
            unique.append(event)
    return unique[:count]

"""Working hours: the weekday → intervals format, its check, and time arithmetic within it.

The format is ``{"mon": [["09:00", "18:00"], …], …}`` read in a time zone (the brand's): an empty
mapping means always open; once any day is given, days left out are closed. An interval ends after
it starts on the same day (split a night shift across two days); ``24:00`` may end one. Channel codes
(who takes a scan) and service (reply deadlines, SLA) share it, so one format means one thing
everywhere. Intervals become aware instants day by day with ``ZoneInfo``, so a day boundary is the
zone's midnight, never UTC's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from siyu.errors import ValidationFailed

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_START = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_END = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")
_HORIZON_DAYS = 400  # a week of hours with one open minute still ends a search within this


def check_working_hours(hours: dict[str, Any] | None) -> dict[str, list[list[str]]]:
    """Return normalised working hours (intervals sorted), or raise ``invalid_working_hours``.

    An empty mapping means "always"; once any day is given, days left out are closed.
    """
    if not hours:
        return {}
    if not isinstance(hours, dict):
        raise ValidationFailed("working_hours must map weekdays to intervals", code="invalid_working_hours")
    result: dict[str, list[list[str]]] = {}
    for day, intervals in hours.items():
        if day not in WEEKDAYS:
            raise ValidationFailed(f"working_hours day {day!r} must be one of {', '.join(WEEKDAYS)}",
                                   code="invalid_working_hours")
        result[day] = _check_intervals(day, intervals)
    return {day: result[day] for day in WEEKDAYS if day in result}


def _check_intervals(day: str, intervals: Any) -> list[list[str]]:
    if not isinstance(intervals, list):
        raise ValidationFailed(f"working_hours[{day}] must be a list of [start, end]", code="invalid_working_hours")
    checked: list[list[str]] = []
    for interval in intervals:
        if (not isinstance(interval, (list, tuple)) or len(interval) != 2
                or not all(isinstance(t, str) for t in interval)):
            raise ValidationFailed(f"working_hours[{day}] intervals must be [\"HH:MM\", \"HH:MM\"]",
                                   code="invalid_working_hours")
        start, end = interval
        if not _START.match(start) or not _END.match(end) or start >= end:
            raise ValidationFailed(f"working_hours[{day}] interval {start}-{end} must be HH:MM with start before end "
                                   "on the same day", code="invalid_working_hours")
        checked.append([start, end])
    checked.sort()
    for (_, prev_end), (next_start, _) in zip(checked, checked[1:]):
        if next_start < prev_end:
            raise ValidationFailed(f"working_hours[{day}] intervals overlap", code="invalid_working_hours")
    return checked


def is_working(hours: Mapping[str, Any], now: datetime, tz: ZoneInfo) -> bool:
    """Return whether ``now`` falls within the working hours (read in ``tz``); empty hours mean always."""
    if not hours:
        return True
    local = now.astimezone(tz)
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in hours.get(WEEKDAYS[local.weekday()], []))


def _instant(day: date, clock: str, tz: ZoneInfo) -> datetime:
    if clock == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    hh, mm = clock.split(":")
    return datetime.combine(day, time(int(hh), int(mm)), tzinfo=tz)


def _open_spans(hours: Mapping[str, Any], start: datetime, tz: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    """Yield the open intervals (aware) from the local day of ``start`` onwards, in order."""
    day = start.astimezone(tz).date()
    for offset in range(_HORIZON_DAYS):
        current = day + timedelta(days=offset)
        for a, b in hours.get(WEEKDAYS[current.weekday()], []):
            yield _instant(current, a, tz), _instant(current, b, tz)


def working_seconds(hours: Mapping[str, Any], start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Return the whole seconds of working time in [start, end) (0 when end <= start)."""
    if end <= start:
        return 0
    if not hours:
        return int((end - start).total_seconds())
    total = 0.0
    for a, b in _open_spans(hours, start, tz):
        if a >= end:
            break
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return int(total)


def add_working(hours: Mapping[str, Any], start: datetime, seconds: int, tz: ZoneInfo) -> datetime:
    """Return the instant when ``seconds`` of working time have passed since ``start``."""
    if not hours:
        return start + timedelta(seconds=seconds)
    if not any(hours.get(day) for day in WEEKDAYS):
        raise ValueError("working hours have no open interval")
    left = float(seconds)
    for a, b in _open_spans(hours, start, tz):
        if b <= start:
            continue
        lo = max(a, start)
        span = (b - lo).total_seconds()
        if left <= span:
            return (lo + timedelta(seconds=left)).astimezone(start.tzinfo)
        left -= span
    raise ValueError("working hours too sparse to place the deadline")

"""Working time between two instants, and the instant N working minutes after another.

Working hours use the channel codes' representation, ``{"mon": [["09:00", "18:00"]], …}`` read in the
brand's time zone (an empty mapping means always open; once any day is given, days left out are
closed), and are checked by the channel codes' own ``check_working_hours`` (a leaf module of pure
checks, as the console uses it), so one format means one thing everywhere. Intervals are turned into
aware instants day by day with ``ZoneInfo``, so a day boundary is the brand's midnight, never UTC's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from siyu.domains.channel_codes.validation import WEEKDAYS, check_working_hours

__all__ = ["add_working", "check_working_hours", "working_seconds"]

_HORIZON_DAYS = 400  # a week of hours with one open minute still ends a search within this


def _instant(day: date, clock: str, tz: ZoneInfo) -> datetime:
    if clock == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    hh, mm = clock.split(":")
    return datetime.combine(day, time(int(hh), int(mm)), tzinfo=tz)


def _open_spans(hours: Mapping[str, Any], start: datetime, tz: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    """Yield the open intervals (aware) from the brand day of ``start`` onwards, in order."""
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

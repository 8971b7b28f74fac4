"""Aware UTC times in storage; the brand's zone for days and display."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` converted to UTC; a naive value is taken to already be UTC (DB reads)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_timestamp(raw: object) -> datetime:
    """Parse an ISO-8601 string with offset, or epoch seconds/milliseconds, into aware UTC.

    Raises ValueError with a message that says what to fix.
    """
    if isinstance(raw, bool):
        raise ValueError("timestamp must be an ISO-8601 string with a UTC offset or epoch milliseconds")
    if isinstance(raw, (int, float)):
        seconds = raw / 1000 if raw > 10**11 else raw
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"timestamp {raw!r} is out of range") from exc
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("timestamp must be an ISO-8601 string with a UTC offset, e.g. 2026-11-23T10:00:00+08:00")
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"timestamp {raw!r} is not ISO-8601, e.g. 2026-11-23T10:00:00+08:00") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {raw!r} has no UTC offset; add one such as +08:00 or Z")
    return parsed.astimezone(UTC)


def local_day(value: datetime, tz: ZoneInfo) -> date:
    """Return the calendar day of ``value`` in the brand's zone."""
    return ensure_utc(value).astimezone(tz).date()


def day_bounds_utc(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC [start, end) of a calendar day in ``tz``."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)

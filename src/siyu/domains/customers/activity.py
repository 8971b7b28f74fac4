"""Activity filters of the customer listing: validation of what the console and the API send.

An activity filter lists the customers who did something on days [first, last] of the brand's
calendar (``last`` included): entered or were lost from the private domain, added or deleted a
staff member (optionally one staff member, or one channel code), joined or left a group (optionally
one), were active, ordered, repurchased; or who were in the private domain (``connected``) at the end
of day ``last``. The SQL is in :mod:`siyu.domains.customers.activity_repository`; the dashboard
(:mod:`siyu.analytics.health`) counts the same customers.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.orm import Session

from siyu.domains.customers.schemas import ACTIVITIES, NONE, ActivityFilter
from siyu.errors import ValidationFailed
from siyu.kit.time import day_bounds_utc

MOVES = frozenset({"entered", "lost"})  # answered by a MovesIndex


class MovesIndex(Protocol):
    """Who entered or was lost from the private domain on which days (the port the analytics layer fills).

    Whether a connection's end loses the customer depends on every other connection the customer
    had at that moment; the dashboard's summaries work that out once per customer and keep the days,
    so the list reads an index instead of re-checking each ended connection (0.1-0.2 s a page at 1M).
    """

    def customers(self, kind: str, first: date, last: date, customer: Any | None) -> Select[Any]:
        """Return the ids of customers who ``kind`` (entered, lost) on days [first, last] (only ``customer``)."""

    def ensure_fresh(self, session: Session) -> None:
        """Bring the index up to date with the facts stored so far."""

# which narrowing each activity takes
TAKES_STAFF = frozenset({"contact_added", "contact_deleted"})
TAKES_CODE = frozenset({"contact_added"})
TAKES_GROUP = frozenset({"group_joined", "group_left"})


def _invalid(message: str, field: str, code: str = "activity_field_unused") -> ValidationFailed:
    return ValidationFailed(message, code=code, field=field)


def _day(field: str, raw: str | date | None) -> date | None:
    if raw is None or isinstance(raw, date):
        return raw
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise _invalid(f"{field} must be a day such as 2026-11-23", field, "invalid_day") from exc


def _narrowing(kind: str, staff: str | None, code: str | None, group: str | None) -> tuple[int | None, bool]:
    """Check which of staff, code and group the activity takes; return (code id, no code)."""
    for value, takes, field in ((staff, TAKES_STAFF, "activity_staff"), (code, TAKES_CODE, "activity_code"),
                                (group, TAKES_GROUP, "activity_group")):
        if value and kind not in takes:
            raise _invalid(f"{field} applies only to {', '.join(sorted(takes))}", field)
    if not code:
        return None, False
    if code == NONE:
        return None, True
    if not code.isdigit():
        raise _invalid(f"activity_code must be a channel code id or {NONE} (none)", "activity_code",
                       "invalid_activity_code")
    return int(code), False


def parse_activity(tz: ZoneInfo, kind: str | None, first: str | date | None, last: str | date | None, *,
                   staff: str | None = None, code: str | None = None, group: str | None = None,
                   moves: MovesIndex | None = None) -> ActivityFilter | None:
    """Validate an activity filter given as strings; None when no activity is asked for.

    ``moves`` answers ``entered`` and ``lost`` (the app passes the one it wired at start-up).
    """
    kind = (kind or "").strip()
    if not kind:
        for value, field in ((first, "activity_from"), (last, "activity_to"), (staff, "activity_staff"),
                             (code, "activity_code"), (group, "activity_group")):
            if value:
                raise _invalid(f"{field} needs an activity", "activity", "activity_required")
        return None
    if kind not in ACTIVITIES:
        raise _invalid(f"activity must be one of {', '.join(ACTIVITIES)}", "activity", "invalid_activity")
    start_day, end_day = _day("activity_from", first), _day("activity_to", last)
    if end_day is None:
        raise _invalid("activity_to (the last day) is required", "activity_to", "missing_day")
    if kind == "connected" and start_day is not None:
        raise _invalid("connected is a state at the end of activity_to; leave activity_from empty", "activity_from")
    if kind != "connected" and start_day is None:
        raise _invalid("activity_from (the first day) is required", "activity_from", "missing_day")
    if start_day is not None and start_day > end_day:
        raise _invalid("activity_to must not be before activity_from", "activity_to", "invalid_period")
    code_id, no_code = _narrowing(kind, staff, code, group)
    if kind in MOVES and moves is None:
        raise RuntimeError("entered and lost are read from the summaries' moves: pass the app's MovesIndex")
    return ActivityFilter(kind=kind, start=day_bounds_utc(start_day, tz)[0] if start_day else None,
                          end=day_bounds_utc(end_day, tz)[1], staff=staff or None, code=code_id, no_code=no_code,
                          group=group or None, first_day=start_day, last_day=end_day, moves=moves)

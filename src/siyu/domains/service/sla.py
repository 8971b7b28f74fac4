"""The daily first-response SLA report, per staff member, for one brand day.

A conversation is a first-response clock started on that brand day (Asia/Shanghai midnight to
midnight by default): a handed-off customer message waiting for the staff member's first reply.
Replied within SLA: the reply came by the deadline (``sla_minutes`` of working time after the
message). First-response time is the working time (seconds, the staff member's current hours)
from the message to the reply; the median is over replied conversations (the mean of the middle
two for an even count). Breaches: replied after the deadline, or not replied and the deadline has
passed at ``as_of``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.domains import staff as staff_domain
from siyu.domains.service import hours as work_hours
from siyu.domains.service import repository as repo
from siyu.kit.time import day_bounds_utc, utcnow


@dataclass(frozen=True, slots=True)
class StaffSla:
    """One staff member's row of the report."""

    staff_id: int
    userid: str
    name: str
    conversations: int
    replied: int
    replied_within: int
    breaches: int
    median_first_response_seconds: float | None


def daily_report(session: Session, day: date, tz: ZoneInfo, *, as_of: datetime | None = None) -> list[StaffSla]:
    """Return the SLA report of brand day ``day`` per staff member (by userid)."""
    as_of = as_of or utcnow()
    start, end = day_bounds_utc(day, tz)
    clocks = repo.clocks_started(session, start, end)
    by_staff: dict[int, list] = {}
    for clock in clocks:
        by_staff.setdefault(clock.staff_id, []).append(clock)
    settings = repo.staff_settings(session, by_staff)
    staff = staff_domain.staff_by_ids(session, by_staff)
    rows = []
    for staff_id, mine in by_staff.items():
        hours = settings[staff_id].working_hours if staff_id in settings else {}
        replied = [c for c in mine if c.replied_at is not None]
        times = [work_hours.working_seconds(hours, c.started_at, c.replied_at, tz) for c in replied]
        breaches = sum(1 for c in mine if (c.replied_at is not None and c.replied_at > c.due_at)
                       or (c.replied_at is None and c.due_at <= as_of))
        member = staff.get(staff_id)
        rows.append(StaffSla(staff_id=staff_id, userid=member.userid if member else str(staff_id),
                             name=member.name if member else "", conversations=len(mine), replied=len(replied),
                             replied_within=sum(1 for c in replied if c.replied_at <= c.due_at), breaches=breaches,
                             median_first_response_seconds=float(statistics.median(times)) if times else None))
    return sorted(rows, key=lambda r: r.userid)

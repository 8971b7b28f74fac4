"""Each customer's contribution to the summaries, computed from their facts (pure Python, no SQL).

A customer's facts are those of the identities it holds now. Besides active days and paid orders
(:mod:`siyu.analytics.spans`), the contribution lists the days the customer added a staff member (a
transfer between staff is not an add), deleted one, joined or left a group, and the customer's
**moves** in and out of the private domain:

- a *connection* is a follow relation ``[added_at, removed_at)`` or a group stay
  ``[joined_at, left_at)`` of any of the customer's identities (an open one has no end; an empty or
  reversed interval connects nothing);
- the customer *enters* the private domain at a moment when a connection begins and none was open
  just before (the first connection ever, or a return after a loss);
- the customer is *lost* at a moment when a connection ends and none remains open. Connections that
  meet (a transfer ends one relation and opens the next at the same instant) leave no gap, so a
  transfer or an inheritance on departure is not a loss; a departure without an heir is.

The days of entries and losses are also stored per customer (``health_moves``), which the customers
list's entered and lost filters read; its other activity filters apply the same definitions in SQL
(:mod:`siyu.domains.customers.activity_repository`), so a dashboard figure and the list it links to
count the same people.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from siyu.analytics.spans import (
    ADDED_CODE,
    ADDED_STAFF,
    DELETED_STAFF,
    FOLLOWED,
    JOINED_GROUP,
    LEFT_GROUP,
    MEMBERS,
    Contribution,
)
from siyu.analytics.summaries import hour_day
from siyu.kit.time import UTC, ensure_utc, local_day

Interval = tuple[datetime, datetime | None]


def utc(value: Any) -> datetime | None:
    """Return a stored time as aware UTC (a driver-level SQLite read gives naive UTC text)."""
    if value is None or isinstance(value, datetime):
        return None if value is None else ensure_utc(value)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def moves(intervals: Iterable[Interval]) -> list[tuple[datetime, int]]:
    """Return the moments the union of ``intervals`` begins (+1) and ends (-1), in time order."""
    points: list[tuple[datetime, int]] = []
    for start, end in intervals:
        if end is not None and end <= start:
            continue
        points.append((start, 0))  # at one instant, beginnings come before ends: meeting intervals leave no gap
        if end is not None:
            points.append((end, 1))
    points.sort()
    out: list[tuple[datetime, int]] = []
    open_ = 0
    for at, kind in points:
        if kind == 0:
            if open_ == 0:
                out.append((at, 1))
            open_ += 1
        else:
            open_ -= 1
            if open_ == 0:
                out.append((at, -1))
    return out


class _Person:
    """What is gathered for one customer before it becomes a Contribution."""

    __slots__ = ("active", "paid", "items", "intervals", "now")

    def __init__(self) -> None:
        self.active: set[int] = set()
        self.paid: Counter[int] = Counter()
        self.items: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.intervals: list[Interval] = []
        self.now: set[str] = set()


def _relations(people: dict[int, _Person], owner: dict[int, int], rows: list[Any], day: Any) -> None:
    for ident, staff_id, code_id, source, added, removed, removed_by in rows:
        if ident not in owner:
            continue
        p = people[owner[ident]]
        added, removed = utc(added), utc(removed)
        assert added is not None  # a follow relation always has a start
        p.intervals.append((added, removed))
        if source != "transfer":
            p.items[(ADDED_STAFF, str(staff_id))].add(day(added))
            p.items[(ADDED_CODE, "" if code_id is None else str(code_id))].add(day(added))
        if removed is None:
            p.now.add(f"{FOLLOWED}{staff_id}")
        elif removed_by == "customer":
            p.items[(DELETED_STAFF, str(staff_id))].add(day(removed))


def _stays(people: dict[int, _Person], owner: dict[int, int], rows: list[Any], day: Any) -> None:
    for ident, group_id, joined, left in rows:
        if ident not in owner:
            continue
        p = people[owner[ident]]
        joined, left = utc(joined), utc(left)
        assert joined is not None  # a stay always has a start
        p.intervals.append((joined, left))
        p.items[(JOINED_GROUP, str(group_id))].add(day(joined))
        if left is None:
            p.now.add(f"{MEMBERS}{group_id}")
        else:
            p.items[(LEFT_GROUP, str(group_id))].add(day(left))


def contributions(rows: dict[str, list[Any]], tz: ZoneInfo) -> dict[int, Contribution]:
    """Return {customer id: contribution} from the rows of ``summaries.customer_facts``."""
    owner = dict(rows["identities"])
    people: dict[int, _Person] = defaultdict(_Person)

    def day(at: datetime) -> int:
        return local_day(at, tz).toordinal()

    for ident, bucket in rows["events"]:
        people[owner[ident]].active.add(hour_day(bucket, tz).toordinal())
    for ident, bucket, n in rows["orders"]:
        people[owner[ident]].paid[hour_day(bucket, tz).toordinal()] += int(n)
    _relations(people, owner, rows["ownerships"], day)
    _stays(people, owner, rows["stays"], day)
    out = {}
    for cid, merged_into, first_seen, platform in rows["customers"]:
        p = people.get(cid) or _Person()
        out[cid] = Contribution(
            live=merged_into is None,
            first_day=local_day(utc(first_seen), tz).toordinal() if first_seen else None,  # type: ignore[arg-type]
            platform=platform, active=tuple(sorted(p.active)), paid=tuple(sorted(p.paid.items())),
            items=tuple((m, dim, tuple(sorted(days))) for (m, dim), days in sorted(p.items.items())),
            moves=tuple(day(at) * step for at, step in moves(p.intervals)), now=tuple(sorted(p.now)))
    return out


def customer_row(customer_id: int, c: Contribution) -> tuple[Any, ...]:
    """Return a customer's ``health_customers`` row, in :data:`siyu.analytics.summaries.CUSTOMER_COLUMNS` order."""
    text = c.encode()
    return (customer_id, c.live, date.fromordinal(c.first_day) if c.first_day is not None else None, c.platform,
            text["active"], text["paid"], text["items"], text["moves"], text["now"])


def move_rows(contributions: dict[int, Contribution]) -> list[tuple[str, date, int]]:
    """Return the rows of ``health_moves``: each live customer's days of entries and losses, each once."""
    rows = {(("in" if m > 0 else "out"), abs(m), cid) for cid, c in contributions.items() if c.live for m in c.moves}
    return [(kind, date.fromordinal(day), cid) for kind, day, cid in sorted(rows)]

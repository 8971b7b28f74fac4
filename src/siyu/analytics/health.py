"""Private-domain health (私域健康度): the figures of the console's dashboard, read from the operational store.

Definitions (a period is [start, end) in UTC, cut from whole days of the brand's calendar):

- private-domain customers: live customers with at least one active WeCom follow relation now;
- new contacts: follow relations opened in the period, transfers between staff excluded;
- lost contacts: follow relations the customer ended (deleted the staff member) in the period;
- group joins / leaves: stays in customer groups begun / ended in the period;
- active customers: distinct customers with any event in the period;
- paid orders, GMV (amounts net of refunds), paying customers, repurchasers (two or more paid orders in
  the period), by the day the order was placed; average order value = GMV / paid orders;
  per-customer value (单客价) = GMV / paying customers.

This module is the analytical side's SQL (the plan keeps SQL in repositories and ``analytics/``);
it reads the domains' tables and writes nothing. Day series are grouped by hour in SQL and the hours
summed into days of the brand's calendar in Python, so the time zone is honoured on SQLite and
PostgreSQL alike (a zone with a non-whole-hour offset would be cut at the hour).
It answers from the live tables at every request: at a million customers the scans of follow
relations and events are what the later analytical engine's daily roll-ups will replace.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.orm import Session

from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.groups.models import GroupMembership
from siyu.domains.identity import Identity
from siyu.domains.orders.models import Order
from siyu.domains.staff.models import Ownership
from siyu.kit.time import ensure_utc, local_day


@dataclass(frozen=True)
class Period:
    """Whole days [first, last] of the brand's calendar and their UTC bounds [start, end)."""

    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def days(self) -> list[date]:
        """Return every day of the period."""
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass
class Totals:
    """The figures of one period."""

    new_contacts: int = 0
    lost_contacts: int = 0
    group_joins: int = 0
    group_leaves: int = 0
    active_customers: int = 0
    paid_orders: int = 0
    gmv_fen: int = 0
    paying_customers: int = 0
    repurchasers: int = 0
    daily: dict[str, Counter[date]] = field(default_factory=dict)

    @property
    def net_contacts(self) -> int:
        """Return new minus lost contacts."""
        return self.new_contacts - self.lost_contacts


def _hour(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _by_day(session: Session, column: Any, value: Any, tz: ZoneInfo, *where: Any) -> Counter[date]:
    """Return {brand day: sum of ``value``} over rows matching ``where``, grouped by hour in SQL."""
    hour = _hour(session, column)
    totals: Counter[date] = Counter()
    for bucket, amount in session.execute(select(hour, value).where(*where).group_by(hour)):
        at = bucket if isinstance(bucket, datetime) else datetime.fromisoformat(str(bucket))
        totals[local_day(ensure_utc(at), tz)] += int(amount or 0)
    return totals


def _in(column: Any, period: Period) -> list[Any]:
    return [column >= period.start, column < period.end]


def private_customers(session: Session) -> int:
    """Return how many live customers have an active follow relation now."""
    query = (select(func.count(distinct(Identity.customer_id))).select_from(Ownership)
             .join(Identity, Identity.id == Ownership.identity_id).where(Ownership.removed_at.is_(None)))
    return int(session.scalar(query) or 0)


def _contacts(session: Session, period: Period, tz: ZoneInfo, totals: Totals) -> None:
    totals.daily["new"] = _by_day(session, Ownership.added_at, func.count(), tz, *_in(Ownership.added_at, period),
                                  Ownership.source != "transfer")
    totals.daily["lost"] = _by_day(session, Ownership.removed_at, func.count(), tz, *_in(Ownership.removed_at, period),
                                   Ownership.removed_by == "customer")
    totals.new_contacts, totals.lost_contacts = sum(totals.daily["new"].values()), sum(totals.daily["lost"].values())


def _groups(session: Session, period: Period, tz: ZoneInfo, totals: Totals) -> None:
    totals.daily["joins"] = _by_day(session, GroupMembership.joined_at, func.count(), tz,
                                    *_in(GroupMembership.joined_at, period))
    totals.daily["leaves"] = _by_day(session, GroupMembership.left_at, func.count(), tz,
                                     *_in(GroupMembership.left_at, period))
    totals.group_joins, totals.group_leaves = sum(totals.daily["joins"].values()), sum(totals.daily["leaves"].values())


def _paid_in(period: Period) -> list[Any]:
    return [Order.paid_at.is_not(None), *_in(Order.placed_at, period)]


def _orders(session: Session, period: Period, tz: ZoneInfo, totals: Totals) -> None:
    per_customer = (select(Identity.customer_id, func.count(), func.sum(Order.amount_fen - Order.refunded_fen))
                    .select_from(Order).join(Identity, Identity.id == Order.identity_id)
                    .where(*_paid_in(period)).group_by(Identity.customer_id))
    counts = [(int(n), int(fen or 0)) for _cid, n, fen in session.execute(per_customer)]
    totals.paid_orders = sum(n for n, _ in counts)
    totals.gmv_fen = sum(fen for _, fen in counts)
    totals.paying_customers = len(counts)
    totals.repurchasers = sum(1 for n, _ in counts if n >= 2)
    totals.daily["gmv"] = _by_day(session, Order.placed_at, func.sum(Order.amount_fen - Order.refunded_fen), tz,
                                  *_paid_in(period))


def _active(session: Session, period: Period, totals: Totals) -> None:
    query: Select[tuple[int]] = (select(func.count(distinct(Identity.customer_id))).select_from(Event)
                                 .join(Identity, Identity.id == Event.identity_id)
                                 .where(Event.occurred_at >= period.start, Event.occurred_at < period.end))
    totals.active_customers = int(session.scalar(query) or 0)


def period_totals(session: Session, period: Period, tz: ZoneInfo) -> Totals:
    """Return every figure of one period."""
    totals = Totals()
    _contacts(session, period, tz, totals)
    _groups(session, period, tz, totals)
    _orders(session, period, tz, totals)
    _active(session, period, totals)
    return totals


def new_by_channel_code(session: Session, period: Period) -> list[tuple[int | None, int]]:
    """Return [(channel code id or None, new contacts)] of the period, most first."""
    query = (select(Ownership.channel_code_id, func.count())
             .where(Ownership.added_at >= period.start, Ownership.added_at < period.end,
                    Ownership.source != "transfer")
             .group_by(Ownership.channel_code_id).order_by(func.count().desc()))
    return [(code, int(n)) for code, n in session.execute(query)]


def new_by_platform(session: Session, period: Period) -> list[tuple[str | None, int]]:
    """Return [(source platform or None, customers first seen in the period)], most first."""
    query = (select(Customer.source_platform, func.count())
             .where(Customer.merged_into_id.is_(None), Customer.first_seen_at >= period.start,
                    Customer.first_seen_at < period.end)
             .group_by(Customer.source_platform).order_by(func.count().desc()))
    return [(platform, int(n)) for platform, n in session.execute(query)]


def _counts(session: Session, query: Select[tuple[int, int]]) -> dict[int, int]:
    return {key: int(n) for key, n in session.execute(query)}


def staff_flow(session: Session, period: Period) -> dict[int, tuple[int, int]]:
    """Return {staff_id: (new contacts, lost contacts)} of the period."""
    new = (select(Ownership.staff_id, func.count())
           .where(Ownership.added_at >= period.start, Ownership.added_at < period.end, Ownership.source != "transfer")
           .group_by(Ownership.staff_id))
    lost = (select(Ownership.staff_id, func.count())
            .where(Ownership.removed_at >= period.start, Ownership.removed_at < period.end,
                   Ownership.removed_by == "customer")
            .group_by(Ownership.staff_id))
    added, removed = _counts(session, new), _counts(session, lost)
    return {sid: (int(added.get(sid, 0)), int(removed.get(sid, 0))) for sid in set(added) | set(removed)}


def group_flow(session: Session, period: Period) -> dict[int, tuple[int, int]]:
    """Return {group_id: (joins, leaves)} of the period."""
    joins = (select(GroupMembership.group_id, func.count())
             .where(GroupMembership.joined_at >= period.start, GroupMembership.joined_at < period.end)
             .group_by(GroupMembership.group_id))
    leaves = (select(GroupMembership.group_id, func.count())
              .where(GroupMembership.left_at >= period.start, GroupMembership.left_at < period.end)
              .group_by(GroupMembership.group_id))
    j, lv = _counts(session, joins), _counts(session, leaves)
    return {gid: (int(j.get(gid, 0)), int(lv.get(gid, 0))) for gid in set(j) | set(lv)}

"""Private-domain health (私域健康度): the figures of the console's dashboard, read from daily summaries.

Definitions (a period is whole days [first, last] of the brand's calendar):

- private-domain customers: live customers with at least one active WeCom follow relation now;
- new contacts: follow relations opened in the period, transfers between staff excluded;
- lost contacts: follow relations the customer ended (deleted the staff member) in the period;
- group joins / leaves: stays in customer groups begun / ended in the period;
- active customers: distinct customers with any event in the period;
- paid orders, GMV (amounts net of refunds), paying customers, repurchasers (two or more paid orders in
  the period), by the day the order was placed; average order value = GMV / paid orders;
  per-customer value (单客价) = GMV / paying customers.

The figures are sums over the ``health_*`` summary tables (:mod:`siyu.analytics.models`), kept exact
by :mod:`siyu.analytics.refresh`; distinct-customer figures come from day-pair counts
(:mod:`siyu.analytics.spans`). Callers refresh first (:func:`siyu.analytics.refresh.refresh_if_stale`).
Days are cut at the hour in the brand's zone (exact for whole-hour offsets such as Asia/Shanghai).
This module is analytical SQL (the plan keeps SQL in repositories and ``analytics/``); it reads only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.analytics import spans
from siyu.analytics.models import HealthDaily, HealthSpan, HealthState
from siyu.analytics.refresh import FOLLOWED


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


def _daily(session: Session, period: Period, metrics: tuple[str, ...]) -> dict[str, dict[tuple[date, str], int]]:
    """Return {metric: {(day, dim): value}} over the period's days."""
    out: dict[str, dict[tuple[date, str], int]] = {m: {} for m in metrics}
    query = (select(HealthDaily.metric, HealthDaily.day, HealthDaily.dim, HealthDaily.value)
             .where(HealthDaily.metric.in_(metrics), HealthDaily.day >= period.first, HealthDaily.day <= period.last))
    for metric, day, dim, value in session.execute(query):
        out[metric][(day, dim)] = int(value)
    return out


def _pairs(session: Session, period: Period) -> Counter[str]:
    """Return {span metric: pairs with both days inside the period}."""
    query = (select(HealthSpan.metric, func.sum(HealthSpan.n))
             .where(HealthSpan.end_day >= period.first, HealthSpan.end_day <= period.last,
                    HealthSpan.start_day >= period.first)
             .group_by(HealthSpan.metric))
    return Counter({metric: int(n or 0) for metric, n in session.execute(query)})


def _by_day(values: dict[tuple[date, str], int]) -> Counter[date]:
    days: Counter[date] = Counter()
    for (day, _dim), value in values.items():
        days[day] += value
    return days


def _by_dim(values: dict[tuple[date, str], int]) -> Counter[str]:
    dims: Counter[str] = Counter()
    for (_day, dim), value in values.items():
        dims[dim] += value
    return dims


def private_customers(session: Session) -> int:
    """Return how many live customers have an active follow relation now."""
    return int(session.scalar(select(HealthState.value).where(HealthState.name == FOLLOWED)) or 0)


def period_totals(session: Session, period: Period, tz: ZoneInfo) -> Totals:
    """Return every figure of one period (``tz`` is the zone the summaries were cut in)."""
    del tz  # days are already the brand's
    d = _daily(session, period, ("new_code", "lost_staff", "joins", "leaves", "orders", "gmv", spans.ACTIVE,
                                 spans.PAID))
    pairs = _pairs(session, period)
    totals = Totals()
    for key, metric in (("new", "new_code"), ("lost", "lost_staff"), ("joins", "joins"), ("leaves", "leaves"),
                        ("gmv", "gmv")):
        totals.daily[key] = _by_day(d[metric])
    totals.new_contacts, totals.lost_contacts = sum(totals.daily["new"].values()), sum(totals.daily["lost"].values())
    totals.group_joins, totals.group_leaves = sum(totals.daily["joins"].values()), sum(totals.daily["leaves"].values())
    totals.gmv_fen, totals.paid_orders = sum(totals.daily["gmv"].values()), sum(d["orders"].values())
    totals.active_customers = spans.at_least(sum(d[spans.ACTIVE].values()), pairs[spans.ACTIVE_PAIRS])
    totals.paying_customers = spans.at_least(sum(d[spans.PAID].values()), pairs[spans.PAID_PAIRS])
    totals.repurchasers = spans.at_least(pairs[spans.PAID_PAIRS], pairs[spans.PAID_PAIRS_2])
    return totals


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(((dim, n) for dim, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0]))


def new_by_channel_code(session: Session, period: Period) -> list[tuple[int | None, int]]:
    """Return [(channel code id or None, new contacts)] of the period, most first."""
    counts = _by_dim(_daily(session, period, ("new_code",))["new_code"])
    return [(int(dim) if dim else None, n) for dim, n in _ranked(counts)]


def new_by_platform(session: Session, period: Period) -> list[tuple[str | None, int]]:
    """Return [(source platform or None, live customers first seen in the period)], most first."""
    counts = _by_dim(_daily(session, period, (spans.NEW_CUSTOMERS,))[spans.NEW_CUSTOMERS])
    return [(dim or None, n) for dim, n in _ranked(counts)]


def _flow(session: Session, period: Period, first: str, second: str) -> dict[int, tuple[int, int]]:
    d = _daily(session, period, (first, second))
    a, b = _by_dim(d[first]), _by_dim(d[second])
    return {int(k): (a.get(k, 0), b.get(k, 0)) for k in set(a) | set(b) if a.get(k, 0) or b.get(k, 0)}


def staff_flow(session: Session, period: Period) -> dict[int, tuple[int, int]]:
    """Return {staff_id: (new contacts, lost contacts)} of the period."""
    return _flow(session, period, "new_staff", "lost_staff")


def group_flow(session: Session, period: Period) -> dict[int, tuple[int, int]]:
    """Return {group_id: (joins, leaves)} of the period."""
    return _flow(session, period, "joins", "leaves")

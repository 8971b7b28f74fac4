"""Private-domain health (私域健康度): the figures of the console's dashboard, read from daily summaries.

Definitions (a period is whole days [first, last] of the brand's calendar; every count is of distinct
live customers, as the identity graph stands now, unless it says otherwise):

- connection: a follow relation with a staff member or a stay in a customer group, of any of the
  customer's identities (:mod:`siyu.analytics.contributions` has the exact rules);
- private-domain customers on day d: customers with a connection open at the end of d;
- entered: customers who entered the private domain in the period (a connection began while none
  was open: the first one, or a return after a loss);
- lost: customers lost from the private domain in the period (their last remaining connection ended:
  they deleted the last staff member, left the last group, were deleted, or their staff member left
  without an heir); net new = entered − lost;
- added a staff member / deleted a staff member: customers who opened a follow relation (transfers
  between staff excluded) / ended one themselves in the period, by staff member and by channel code;
- joined / left a group: customers who began / ended a stay in a group in the period, by group;
- active customers: customers with any event in the period;
- paid orders, GMV (amounts net of refunds), paying customers, repurchasers (two or more paid orders in
  the period), by the day the order was placed; average order value = GMV / paid orders;
  per-customer value (单客价) = GMV / paying customers;
- followed now by a staff member, members now of a group: customers with an open relation / stay.

The figures are sums over the ``health_*`` summary tables (:mod:`siyu.analytics.models`), kept exact
by :mod:`siyu.analytics.refresh`; distinct-customer figures come from day-pair counts
(:mod:`siyu.analytics.spans`). Callers refresh first (:func:`siyu.analytics.refresh.refresh_if_stale`).
Event and order days are cut at the hour in the brand's zone (exact for whole-hour offsets such as
Asia/Shanghai). This module is analytical SQL (the plan keeps SQL in repositories and ``analytics/``);
it reads only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.analytics import spans
from siyu.analytics.models import HealthDaily, HealthSpan, HealthState

# distinct-customer figures of a period, each an item list of spans (dim '')
ITEM_FIGURES = {"entered": spans.ENTERED, "lost": spans.LOST, "added": spans.ADDED, "deleted": spans.DELETED,
                "joined": spans.JOINED, "left": spans.LEFT, "active": spans.ACTIVE}


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
    """The figures of one period: distinct customers per figure, orders and GMV, and day by day."""

    entered: int = 0
    lost: int = 0
    added: int = 0
    deleted: int = 0
    joined: int = 0
    left: int = 0
    active: int = 0
    paid_orders: int = 0
    gmv_fen: int = 0
    paying: int = 0
    repurchasers: int = 0
    private_end: int = 0  # private-domain customers at the end of the period's last day
    # per day: the figures above for that single day (distinct customers), "paying", "gmv", "orders"
    daily: dict[str, Counter[date]] = field(default_factory=dict)

    @property
    def net(self) -> int:
        """Return net new private-domain customers: entered minus lost."""
        return self.entered - self.lost


def _daily(session: Session, first: date, last: date, metrics: tuple[str, ...],
           dim: str | None = "") -> dict[str, dict[tuple[date, str], int]]:
    """Return {metric: {(day, dim): value}} over days [first, last] (every dimension when ``dim`` is None)."""
    out: dict[str, dict[tuple[date, str], int]] = {m: {} for m in metrics}
    query = (select(HealthDaily.metric, HealthDaily.day, HealthDaily.dim, HealthDaily.value)
             .where(HealthDaily.metric.in_(metrics), HealthDaily.day >= first, HealthDaily.day <= last))
    if dim is not None:
        query = query.where(HealthDaily.dim == dim)
    for metric, day, d, value in session.execute(query):
        out[metric][(day, d)] = int(value)
    return out


LONG_PERIOD_DAYS = spans.MAX_SPAN // 2  # from this length on, pairs are counted from day sums (spans.py)


def _pairs(session: Session, period: Period, metrics: tuple[str, ...],
           dim: str | None = "") -> Counter[tuple[str, str]]:
    """Return {(span metric, dim): pairs with both days inside the period} (every dimension when ``dim`` is None).

    A short period reads its pairs directly (rows of as many days as it has); a long one takes
    pairs ending by its last day − pairs starting before its first day + pairs spanning it
    (:mod:`siyu.analytics.spans`), which reads day sums and the few pairs that span it.
    """
    if (period.last - period.first).days + 1 < LONG_PERIOD_DAYS:
        return _spans(session, metrics, dim, HealthSpan.end_day >= period.first, HealthSpan.end_day <= period.last,
                      HealthSpan.start_day >= period.first)
    ending = _day_sums(session, [f"{m}:e" for m in metrics], dim, HealthDaily.day <= period.last)
    starting = _day_sums(session, [f"{m}:s" for m in metrics], dim, HealthDaily.day < period.first)
    spanning = _spans(session, metrics, dim, HealthSpan.end_day > period.last, HealthSpan.start_day < period.first,
                      HealthSpan.end_day < period.first + timedelta(days=spans.MAX_SPAN))
    out: Counter[tuple[str, str]] = Counter()
    for (metric, d), n in ending.items():
        out[(metric[:-2], d)] += n
    for (metric, d), n in starting.items():
        out[(metric[:-2], d)] -= n
    out.update(spanning)
    return out


def _spans(session: Session, metrics: tuple[str, ...], dim: str | None, *where: Any) -> Counter[tuple[str, str]]:
    """Return {(span metric, dim): pairs} of the span rows ``where`` selects."""
    query = (select(HealthSpan.metric, HealthSpan.dim, func.sum(HealthSpan.n))
             .where(HealthSpan.metric.in_(metrics), *where).group_by(HealthSpan.metric, HealthSpan.dim))
    if dim is not None:
        query = query.where(HealthSpan.dim == dim)
    return Counter({(metric, d): int(n or 0) for metric, d, n in session.execute(query)})


def _day_sums(session: Session, metrics: list[str], dim: str | None, *where: Any) -> Counter[tuple[str, str]]:
    """Return {(metric, dim): sum of its daily values} over the days ``where`` selects."""
    query = (select(HealthDaily.metric, HealthDaily.dim, func.sum(HealthDaily.value))
             .where(HealthDaily.metric.in_(metrics), *where).group_by(HealthDaily.metric, HealthDaily.dim))
    if dim is not None:
        query = query.where(HealthDaily.dim == dim)
    return Counter({(metric, d): int(n or 0) for metric, d, n in session.execute(query)})


def _by_day(values: dict[tuple[date, str], int]) -> Counter[date]:
    days: Counter[date] = Counter()
    for (day, _dim), value in values.items():
        days[day] += value
    return days


def private_at(session: Session, day: date) -> int:
    """Return how many customers were in the private domain at the end of ``day`` (entries − exits so far)."""
    query = (select(HealthDaily.metric, func.sum(HealthDaily.value))
             .where(HealthDaily.metric.in_((spans.IN_MOVES, spans.OUT_MOVES)), HealthDaily.day <= day)
             .group_by(HealthDaily.metric))
    sums = {metric: int(n or 0) for metric, n in session.execute(query)}
    return sums.get(spans.IN_MOVES, 0) - sums.get(spans.OUT_MOVES, 0)


def period_totals(session: Session, period: Period) -> Totals:
    """Return every figure of one period."""
    same_day = f"{spans.PAID_PAIRS}:d"
    metrics = (*ITEM_FIGURES.values(), spans.PAID, "orders", "gmv", same_day)
    d = _daily(session, period.first, period.last, metrics)
    pairs = _pairs(session, period, (*(spans.pair_metric(m) for m in ITEM_FIGURES.values()), spans.PAID_PAIRS,
                                     spans.PAID_PAIRS_2))
    totals = Totals(private_end=private_at(session, period.last))
    for name, metric in ITEM_FIGURES.items():
        totals.daily[name] = _by_day(d[metric])  # one list item per customer and day: a day's sum is distinct
        setattr(totals, name, spans.at_least(sum(totals.daily[name].values()), pairs[(spans.pair_metric(metric), "")]))
    paid, twice = _by_day(d[spans.PAID]), _by_day(d[same_day])
    totals.daily["paying"] = Counter({day: n - twice[day] for day, n in paid.items() if n - twice[day]})
    totals.daily["gmv"], totals.daily["orders"] = _by_day(d["gmv"]), _by_day(d["orders"])
    totals.gmv_fen, totals.paid_orders = sum(totals.daily["gmv"].values()), sum(totals.daily["orders"].values())
    totals.paying = spans.at_least(sum(paid.values()), pairs[(spans.PAID_PAIRS, "")])
    totals.repurchasers = spans.at_least(pairs[(spans.PAID_PAIRS, "")], pairs[(spans.PAID_PAIRS_2, "")])
    return totals


def distinct_by_dim(session: Session, period: Period, metric: str) -> Counter[str]:
    """Return {dim: distinct customers with an item of ``metric`` in the period}, zeros left out."""
    items = _day_sums(session, [metric], None, HealthDaily.day >= period.first, HealthDaily.day <= period.last)
    pairs = _pairs(session, period, (spans.pair_metric(metric),), dim=None)
    counts = Counter({dim: n - pairs[(spans.pair_metric(metric), dim)] for (_m, dim), n in items.items()})
    return +counts


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(((dim, n) for dim, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0]))


def added_by_channel_code(session: Session, period: Period) -> list[tuple[int | None, int]]:
    """Return [(channel code id or None, customers who added a staff member through it)] of the period, most first."""
    return [(int(dim) if dim else None, n) for dim, n in _ranked(distinct_by_dim(session, period, spans.ADDED_CODE))]


def new_by_platform(session: Session, period: Period) -> list[tuple[str | None, int]]:
    """Return [(source platform or None, live customers first seen in the period)], most first."""
    sums = _day_sums(session, [spans.NEW_CUSTOMERS], None, HealthDaily.day >= period.first,
                     HealthDaily.day <= period.last)
    return [(dim or None, n) for dim, n in _ranked(Counter({dim: n for (_m, dim), n in sums.items()}))]


def _flow(session: Session, period: Period, first: str, second: str) -> dict[int, tuple[int, int]]:
    a, b = distinct_by_dim(session, period, first), distinct_by_dim(session, period, second)
    return {int(k): (a.get(k, 0), b.get(k, 0)) for k in set(a) | set(b)}


def staff_flow(session: Session, period: Period) -> dict[int, tuple[int, int]]:
    """Return {staff_id: (customers who added them, customers who deleted them)} of the period."""
    return _flow(session, period, spans.ADDED_STAFF, spans.DELETED_STAFF)


def group_flow(session: Session, period: Period) -> dict[int, tuple[int, int]]:
    """Return {group_id: (customers who joined, customers who left)} of the period."""
    return _flow(session, period, spans.JOINED_GROUP, spans.LEFT_GROUP)


def staff_days(session: Session, first: date, last: date) -> dict[tuple[int, date], tuple[int, int]]:
    """Return {(staff_id, day): (customers who added them, customers who deleted them)} on days [first, last]."""
    d = _daily(session, first, last, (spans.ADDED_STAFF, spans.DELETED_STAFF), dim=None)
    out: dict[tuple[int, date], tuple[int, int]] = {}
    for (day, dim), n in d[spans.ADDED_STAFF].items():
        out[(int(dim), day)] = (n, 0)
    for (day, dim), n in d[spans.DELETED_STAFF].items():
        out[(int(dim), day)] = (out.get((int(dim), day), (0, 0))[0], n)
    return out


def _now(session: Session, prefix: str) -> dict[int, int]:
    query = select(HealthState.name, HealthState.value).where(HealthState.name.like(f"{prefix}%"),
                                                              HealthState.value != 0)
    return {int(name[len(prefix):]): int(value) for name, value in session.execute(query)}


def followed_now(session: Session) -> dict[int, int]:
    """Return {staff_id: customers the staff member follows now}, zeros left out."""
    return _now(session, spans.FOLLOWED)


def members_now(session: Session) -> dict[int, int]:
    """Return {group_id: customers in the group now}, zeros left out."""
    return _now(session, spans.MEMBERS)

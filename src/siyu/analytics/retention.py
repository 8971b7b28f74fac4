"""Retention: of the customers who entered in a period, how many came back 1, 2, … periods later.

Periods are days, weeks (Monday first) or calendar months of the brand's calendar. Definitions:

- **Cohorts** (``cohort_by``): ``first_order`` — the period of a customer's first paid order ever;
  ``joined`` — the period the customer was first seen (``first_seen_at``). Only cohorts starting
  between ``start`` and ``end`` (days, inclusive) are reported.
- **Coming back** (``activity``): a paid order (``orders``) or any event of the given types.
- **Mode**: ``first`` (first-time retention: each customer belongs to one cohort) or ``recurring``
  (every period in which a customer did the activity starts an entry of that period's cohort, and
  the entry counts as retained in period k if the activity happens again k periods later).
- Cell (cohort, k) = customers of the cohort active in period cohort + k; k = 0 … ``periods``, and only
  periods that have begun by ``end``'s period are reported.

Brand days are cut with the zone's UTC offset on ``end`` (exact for zones without daylight saving,
such as Asia/Shanghai; elsewhere a fact within an hour of midnight on a changeover day may land in the
neighbouring day). One Ibis expression runs on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import ibis
from ibis import _

from siyu.analytics.engines import Facts
from siyu.errors import ValidationFailed

Unit = Literal["day", "week", "month"]
EPOCH = date(1970, 1, 1)


class InvalidRetention(ValidationFailed):
    """Retention parameters that cannot be used."""

    code = "invalid_retention"


@dataclass(frozen=True)
class RetentionParams:
    """What to compute (see the module's definitions)."""

    start: date
    end: date
    unit: Unit = "week"
    periods: int = 12
    cohort_by: Literal["first_order", "joined"] = "first_order"
    activity: tuple[str, ...] = ()  # event types; empty: paid orders
    mode: Literal["first", "recurring"] = "first"

    def check(self, today: date) -> None:
        """Raise InvalidRetention when the parameters cannot give a meaningful answer."""
        if self.end > today:
            raise InvalidRetention(f"end {self.end} is in the future (today is {today})", code="as_of_in_future", field="to")
        if self.start > self.end:
            raise InvalidRetention(f"start {self.start} is after end {self.end}", field="from")
        if self.unit not in ("day", "week", "month"):
            raise InvalidRetention(f"unit must be day, week or month, got {self.unit!r}", field="unit")
        if not 1 <= self.periods <= 400:
            raise InvalidRetention(f"periods must be 1–400, got {self.periods}", field="periods")
        if self.mode == "recurring" and self.cohort_by == "joined":
            raise InvalidRetention("recurring retention starts a cohort at each activity; use cohort_by first_order",
                                   field="mode")


@dataclass
class RetentionResult:
    """Per cohort: its first day, its size and the customers active in each period since."""

    params: RetentionParams
    engine: str
    cohorts: list[dict[str, Any]] = field(default_factory=list)  # {"cohort": date, "size": n, "retained": [n0, n1…]}


def period_number(day: date, unit: Unit) -> int:
    """Return the period index of a brand day (days since 1970, Monday weeks, or months since 1970)."""
    if unit == "day":
        return (day - EPOCH).days
    if unit == "week":
        return ((day - EPOCH).days + 3) // 7  # 1970-01-01 was a Thursday
    return (day.year - 1970) * 12 + day.month - 1


def period_start(number: int, unit: Unit) -> date:
    """Return the first day of period ``number``."""
    if unit == "day":
        return EPOCH + timedelta(days=number)
    if unit == "week":
        return EPOCH + timedelta(days=number * 7 - 3)
    return date(1970 + number // 12, number % 12 + 1, 1)


def _periods(epoch_s: Any, offset: int, unit: Unit) -> Any:
    """Return the period index of epoch seconds as an Ibis integer expression."""
    local_day = (epoch_s + offset) // 86400
    if unit == "day":
        return local_day
    if unit == "week":
        return (local_day + 3) // 7
    stamp = ibis.literal(datetime(1970, 1, 1)) + local_day.cast("int64").as_interval("D")
    return (stamp.year() - 1970) * 12 + stamp.month() - 1


def _activity(facts: Facts, params: RetentionParams, offset: int, end_s: int) -> ibis.Table:
    """Return (customer_id, period) of every activity from the first cohort's period up to the end.

    Earlier activity cannot fill a cell (k ≥ 0 means a period at or after the cohort's, and cohorts
    start at the first reported one) nor start a reported recurring entry, so it is not read: at 50M
    events a 12-week triangle scans a few months of facts, not two years. ``customer_id`` is the
    identity's customer now.
    """
    first_day = (period_start(period_number(params.start, params.unit), params.unit) - EPOCH).days
    since_s = first_day * 86400 - offset  # the first local second of the first cohort's period
    if params.activity:
        ev = facts.table("events")
        ev = ev.filter(ev.type.isin(list(params.activity))).mutate(at_s=ev.occurred_at.epoch_seconds().floor())
        rows = ev.filter(ev.at_s < end_s, ev.at_s >= since_s)
    else:
        orders = facts.table("orders")
        paid = orders.filter(orders.paid_at.notnull()).mutate(at_s=orders.paid_at.epoch_seconds().floor())
        rows = paid.filter(paid.at_s < end_s, paid.at_s >= since_s)
    return rows.select(customer_id=_.customer_id, period=_periods(rows.at_s, offset, params.unit).cast("int64")).distinct()


def expressions(facts: Facts, params: RetentionParams, tz: ZoneInfo) -> tuple[ibis.Table, ibis.Table]:
    """Return the cohorts' sizes (cohort, size) and their cells (cohort, k, n), k = 0 … periods."""
    end_local = datetime.combine(params.end + timedelta(days=1), time.min, tzinfo=tz)
    offset = int(end_local.utcoffset().total_seconds())  # type: ignore[union-attr]
    end_s = int(end_local.timestamp())
    first_p, last_p = period_number(params.start, params.unit), period_number(params.end, params.unit)
    active = _activity(facts, params, offset, end_s)
    if params.mode == "recurring":
        entries = active.rename(cohort="period")
    elif params.cohort_by == "first_order":
        orders = facts.table("orders")
        paid = orders.filter(orders.paid_at.notnull()).mutate(at_s=orders.paid_at.epoch_seconds().floor())
        firsts = paid.group_by("customer_id").aggregate(first_s=paid.at_s.min())
        entries = firsts.select("customer_id", cohort=_periods(firsts.first_s, offset, params.unit).cast("int64"))
    else:
        customers = facts.table("customers")
        entries = customers.select(customer_id=customers.id,
                                   cohort=_periods(customers.first_seen_at.epoch_seconds().floor(), offset,
                                                   params.unit).cast("int64"))
    entries = entries.filter((entries.cohort >= first_p) & (entries.cohort <= last_p))
    pairs = entries.inner_join(active, entries.customer_id == active.customer_id)
    k = (pairs.period - pairs.cohort)
    cells = pairs.filter((k >= 0) & (k <= params.periods)).select(cohort=_.cohort, k=k, customer_id=_.customer_id)
    sizes = entries.group_by("cohort").aggregate(size=_.count())
    return sizes, cells.group_by("cohort", "k").aggregate(n=_.count())


def compute(facts: Facts, params: RetentionParams, tz: ZoneInfo) -> RetentionResult:
    """Return every cohort's size and retained customers per period."""
    last_p = period_number(params.end, params.unit)
    sizes, cells = expressions(facts, params, tz)
    by: dict[int, dict[str, Any]] = {int(r["cohort"]): {"size": int(r["size"]), "cells": {}}
                                     for r in sizes.to_pyarrow().to_pylist()}
    for row in cells.to_pyarrow().to_pylist():
        by[int(row["cohort"])]["cells"][int(row["k"])] = int(row["n"])
    result = RetentionResult(params, facts.engine)
    for cohort in sorted(by):
        horizon = min(params.periods, last_p - cohort)
        cells = by[cohort]["cells"]
        result.cohorts.append({"cohort": period_start(cohort, params.unit), "size": by[cohort]["size"],
                               "retained": [cells.get(k, 0) for k in range(horizon + 1)]})
    return result

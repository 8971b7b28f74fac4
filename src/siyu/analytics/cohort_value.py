"""Per-customer value (单客价) by cohort and by acquiring channel code.

Definitions (docs/analytics.md#per-customer-value), one Ibis expression per table on every engine:

- **Cohort**: the month (or week) a customer was first seen (``joined``) or paid a first order
  (``first_order``); cohorts whose period starts from ``start`` to ``end`` are reported.
- **Acquiring channel code**: the code recorded as the customer's first touch (``none`` without one),
  for the customers who joined from ``start`` to ``end``.
- **Revenue**: the customers' paid orders up to the end of ``as_of`` (default ``end``) less the
  refunds that happened by then. **Value per customer** = revenue ÷ customers of the group; **per
  buyer** = revenue ÷ customers with a paid order. Money is integer fen, shown as yuan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import ibis

from siyu.analytics.engines import Facts
from siyu.analytics.purchases import paid_orders
from siyu.analytics.retention import _periods, period_number, period_start
from siyu.errors import ValidationFailed


class InvalidValue(ValidationFailed):
    """Per-customer value parameters that cannot be used."""

    code = "invalid_value"


@dataclass(frozen=True)
class ValueParams:
    """Cohorts (or joiners) from ``start`` to ``end``; revenue up to ``as_of`` (default ``end``)."""

    start: date
    end: date
    cohort_by: Literal["joined", "first_order"] = "first_order"
    unit: Literal["week", "month"] = "month"
    as_of: date | None = None

    @property
    def until(self) -> date:
        """Return the last day whose revenue counts."""
        return self.as_of or self.end

    def check(self, today: date) -> None:
        """Raise InvalidValue when the parameters cannot give a meaningful answer."""
        if self.until > today:
            raise InvalidValue(f"{self.until} is in the future (today is {today})", code="as_of_in_future")
        if self.start > self.end:
            raise InvalidValue(f"from {self.start} is after to {self.end}")
        if self.until < self.end:
            raise InvalidValue(f"as_of {self.until} is before to {self.end}")
        if self.cohort_by not in ("joined", "first_order"):
            raise InvalidValue(f"cohort_by must be joined or first_order, got {self.cohort_by!r}")
        if self.unit not in ("week", "month"):
            raise InvalidValue(f"unit must be week or month, got {self.unit!r}")


@dataclass
class ValueResult:
    """Rows per cohort and per acquiring channel code: customers, buyers, orders, revenue (fen)."""

    params: ValueParams
    engine: str
    cohorts: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)


def _spend(facts: Facts, high: int) -> ibis.Table:
    """Return (customer_id, orders, revenue) of every buyer up to epoch second ``high``."""
    paid = paid_orders(facts, high)
    return paid.group_by("customer_id").aggregate(orders=paid.count(), revenue=paid.net.sum())


def _summary(members: ibis.Table, spend: ibis.Table, key: str) -> list[dict[str, Any]]:
    """Return per ``key``: customers, buyers, orders and revenue of ``members`` (customer_id, key)."""
    rows = members.left_join(spend, members.customer_id == spend.customer_id)
    agg = rows.group_by(key).aggregate(customers=rows.count(), buyers=rows.orders.notnull().ifelse(1, 0).sum(),
                                       orders=rows.orders.fill_null(0).sum(), revenue=rows.revenue.fill_null(0).sum())
    return [{k: (v if k == key else int(v or 0)) for k, v in r.items()} for r in agg.to_pyarrow().to_pylist()]


def compute(facts: Facts, params: ValueParams, tz: ZoneInfo) -> ValueResult:
    """Return value per customer by cohort and by acquiring channel code."""
    after = datetime.combine(params.until + timedelta(days=1), time.min, tzinfo=tz)
    offset, high = int(after.utcoffset().total_seconds()), int(after.timestamp())  # type: ignore[union-attr]
    spend = _spend(facts, high)
    first_p, last_p = period_number(params.start, params.unit), period_number(params.end, params.unit)
    cust = facts.table("customers")
    joined = cust.select(customer_id=cust.id, code=cust.source_channel_code_id,
                         cohort=_periods(cust.first_seen_at.epoch_seconds().floor(), offset, params.unit).cast("int64"))
    if params.cohort_by == "first_order":
        paid = paid_orders(facts, high)
        firsts = paid.group_by("customer_id").aggregate(first_s=paid.paid_s.min())
        members = firsts.select("customer_id", cohort=_periods(firsts.first_s, offset, params.unit).cast("int64"))
    else:
        members = joined.select("customer_id", "cohort")
    members = members.filter((members.cohort >= first_p) & (members.cohort <= last_p))
    result = ValueResult(params, facts.engine)
    result.cohorts = sorted(({**r, "cohort": period_start(int(r["cohort"]), params.unit)}
                             for r in _summary(members, spend, "cohort")), key=lambda r: r["cohort"])
    joiners = joined.filter((joined.cohort >= first_p) & (joined.cohort <= last_p)).select("customer_id", "code")
    result.channels = sorted(_summary(joiners, spend, "code"), key=lambda r: (-r["revenue"], r["code"] or 0))
    return result

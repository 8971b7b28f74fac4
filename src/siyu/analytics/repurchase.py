"""Repurchase: how many buyers buy again, how soon, per cohort of first purchase.

Definitions (docs/analytics.md#repurchase), one Ibis expression per figure on every engine:

- A **purchase** is a paid order whose value, net of the refunds that happened by the end of ``end``,
  is above zero (an order refunded in full was not a purchase). Customers are people after OneID.
- **Cohort**: the month (or week, Monday first) of a customer's first purchase ever; cohorts whose
  period starts from ``start`` to ``end`` are reported. Only purchases up to the end of ``end`` count.
- **Repurchased**: a second purchase within ``within_days`` days of the first (by brand days: a
  second purchase on the first's day counts, one ``within_days`` days later too).
- **Days to repurchase**: brand days from the first purchase to the second; **inter-purchase time**:
  brand days between consecutive purchases of a customer. Medians are lower medians (the middle value;
  of an even count the smaller middle one).
- **Distribution**: the gaps between consecutive purchases whose later purchase falls from ``start``
  to ``end``, counted in buckets of days.
- **Period repurchase rate**: of the customers with a purchase from ``start`` to ``end``, the share
  with at least two purchases in that period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import ibis

from siyu.analytics.engines import Facts
from siyu.analytics.purchases import paid_order_rows
from siyu.analytics.retention import _periods, period_number, period_start
from siyu.errors import ValidationFailed

BUCKETS = ((0, 0), (1, 1), (2, 3), (4, 7), (8, 14), (15, 30), (31, 60), (61, 90), (91, 180), (181, 365), (366, None))


class InvalidRepurchase(ValidationFailed):
    """Repurchase parameters that cannot be used."""

    code = "invalid_repurchase"


@dataclass(frozen=True)
class RepurchaseParams:
    """Cohorts from ``start`` to ``end`` by ``unit``; repurchase within ``within_days``."""

    start: date
    end: date
    unit: Literal["week", "month"] = "month"
    within_days: int = 90

    def check(self, today: date) -> None:
        """Raise InvalidRepurchase when the parameters cannot give a meaningful answer."""
        if self.end > today:
            raise InvalidRepurchase(f"to {self.end} is in the future (today is {today})", code="as_of_in_future")
        if self.start > self.end:
            raise InvalidRepurchase(f"from {self.start} is after to {self.end}")
        if self.unit not in ("week", "month"):
            raise InvalidRepurchase(f"unit must be week or month, got {self.unit!r}")
        if not 1 <= self.within_days <= 3660:
            raise InvalidRepurchase(f"within_days must be 1–3660, got {self.within_days}")


@dataclass
class RepurchaseResult:
    """Cohorts, the gap distribution and the period's repurchase rate."""

    params: RepurchaseParams
    engine: str
    cohorts: list[dict[str, Any]] = field(default_factory=list)
    distribution: list[dict[str, Any]] = field(default_factory=list)
    period_buyers: int = 0
    period_repeat_buyers: int = 0
    median_gap_days: int | None = None


def _day_offset(end: date, tz: ZoneInfo) -> tuple[int, int]:
    """Return the zone's UTC offset (seconds) on ``end`` and the epoch second after it."""
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    return int(after.utcoffset().total_seconds()), int(after.timestamp())  # type: ignore[union-attr]


def purchases(facts: Facts, params: RepurchaseParams, tz: ZoneInfo) -> ibis.Table:
    """Return every purchase up to ``end`` with its brand day, sequence number and the gap to the previous."""
    offset, high = _day_offset(params.end, tz)
    paid = paid_order_rows(facts, high)
    paid = paid.filter(paid.net > 0)
    paid = paid.mutate(day=((paid.paid_s + offset) // 86400).cast("int64"))
    win = ibis.window(group_by="customer_id", order_by=[paid.paid_s, paid.order_pk])
    return paid.mutate(seq=ibis.row_number().over(win), gap=paid.day - paid.day.lag(1).over(win))


def compute(facts: Facts, params: RepurchaseParams, tz: ZoneInfo) -> RepurchaseResult:
    """Return the cohorts' repurchase, the distribution of gaps and the period's repurchase rate."""
    offset, _high = _day_offset(params.end, tz)
    p = purchases(facts, params, tz)
    result = RepurchaseResult(params, facts.engine)
    result.cohorts = _cohorts(p, params, offset)
    lo_day = (datetime.combine(params.start, time.min, tzinfo=tz).timestamp() + offset) // 86400
    in_period = p.filter(p.day >= int(lo_day))
    gaps = in_period.filter(in_period.gap.notnull())
    counts = {int(r["bucket"]): int(r["n"]) for r in gaps.group_by(bucket=_bucket(gaps.gap))
              .aggregate(n=gaps.count()).to_pyarrow().to_pylist()}
    result.distribution = [{"from_days": lo, "to_days": hi, "gaps": counts.get(i, 0)} for i, (lo, hi) in enumerate(BUCKETS)]
    result.median_gap_days = _lower_median(gaps.select(v=gaps.gap))
    per = in_period.group_by("customer_id").aggregate(n=in_period.count())
    row = per.aggregate(buyers=per.count(), repeat=(per.n >= 2).ifelse(1, 0).sum()).to_pyarrow().to_pylist()[0]
    result.period_buyers, result.period_repeat_buyers = int(row["buyers"] or 0), int(row["repeat"] or 0)
    return result


def _bucket(gap: Any) -> Any:
    return ibis.cases(*[(gap <= hi, i) for i, (_lo, hi) in enumerate(BUCKETS) if hi is not None], else_=len(BUCKETS) - 1)


def _lower_median(values: ibis.Table) -> int | None:
    """Return the lower median of column ``v`` (None when empty), computed on the engine."""
    ranked = values.mutate(rn=ibis.row_number().over(order_by=values.v), cnt=values.count().over())
    row = ranked.filter(ranked.rn == (ranked.cnt - 1) // 2).select("v").limit(1).to_pyarrow().to_pylist()
    return int(row[0]["v"]) if row else None


def _cohorts(p: ibis.Table, params: RepurchaseParams, offset: int) -> list[dict[str, Any]]:
    first_p, last_p = period_number(params.start, params.unit), period_number(params.end, params.unit)
    first = p.filter(p.seq == 0).select("customer_id", first_day=p.day,
                                        cohort=_periods(p.paid_s, offset, params.unit).cast("int64"))
    first = first.filter((first.cohort >= first_p) & (first.cohort <= last_p))
    second = p.filter(p.seq == 1).select(s_customer="customer_id", second_day=p.day)
    gaps = p.filter(p.seq >= 1).select(g_customer="customer_id", g=p.gap)
    joined = first.left_join(second, first.customer_id == second.s_customer)
    days = joined.second_day - joined.first_day
    rows = joined.mutate(days=days, again=(days <= params.within_days).fill_null(False))
    group = rows.group_by("cohort")
    sized = group.aggregate(customers=rows.count(), repurchased=rows.again.ifelse(1, 0).sum()).to_pyarrow().to_pylist()
    med_second = _medians(rows.filter(rows.again).select("cohort", v=rows.days))
    all_gaps = first.inner_join(gaps, first.customer_id == gaps.g_customer).select("cohort", v=gaps.g)
    med_gap = _medians(all_gaps)
    out = []
    for row in sorted(sized, key=lambda r: r["cohort"]):
        c = int(row["cohort"])
        out.append({"cohort": period_start(c, params.unit), "customers": int(row["customers"]),
                    "repurchased": int(row["repurchased"] or 0), "median_days_to_repurchase": med_second.get(c),
                    "median_gap_days": med_gap.get(c)})
    return out


def _medians(values: ibis.Table) -> dict[int, int]:
    """Return the lower median of ``v`` per ``cohort``."""
    ranked = values.mutate(rn=ibis.row_number().over(group_by="cohort", order_by=values.v),
                           cnt=values.count().over(group_by="cohort"))
    picked = ranked.filter(ranked.rn == (ranked.cnt - 1) // 2).select("cohort", "v")
    return {int(r["cohort"]): int(r["v"]) for r in picked.to_pyarrow().to_pylist()}

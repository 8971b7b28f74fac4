"""GMV decomposition: sales = traffic × entry rate × conversion × average order value (客单价), per period,
and the change between two periods attributed to each factor.

Definitions for a period of brand days ``start`` … ``end`` (inclusive), docs/analytics.md#gmv:

- **traffic** (客流量): customers (after OneID) with any event or a paid order in the period;
- **entered** (进店): of them, those who came into the shop: an entry event (``ENTRY_EVENTS`` by
  default: opened the mini program or app, viewed a page or product, added to cart, visited a store)
  or a paid order; **entry rate** = entered ÷ traffic;
- **buyers**: customers with a paid order in the period; **conversion** = buyers ÷ entered;
- **GMV**: the period's paid orders (by payment time) less the refunds that happened by the period's
  end; **AOV** (客单价, per buyer, which makes the identity exact) = GMV ÷ buyers.

So GMV = traffic × entry rate × conversion × AOV exactly. The change between a base and a current
period is split with the additive **LMDI-I** (log-mean Divisia index; Ang 2004): the part of factor
x is L(V₁, V₀) · ln(x₁ / x₀), L(a, b) = (a − b) / (ln a − ln b). It was chosen over sequential
substitution because the parts do not depend on an arbitrary order of the factors (substitution gives
one of 24 answers for four factors) and there is no residual: the parts sum to the change. They are
rounded to fen with the largest-remainder rule so they sum to the change in fen exactly. When one
period has no sales, logarithms are undefined; following the analytical limit of Ang & Liu (2007)
the whole change goes to the factor that is zero in that period (the first in the chain traffic →
entry → conversion → AOV, since the later ones are then undefined).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from siyu.analytics.engines import Facts
from siyu.analytics.purchases import during, paid_order_rows
from siyu.errors import ValidationFailed
from siyu.kit.money import CENT, from_fen

ENTRY_EVENTS = ("mini_program_opened", "app_opened", "page_viewed", "product_viewed", "cart_added", "store_visited")
FACTORS = ("traffic", "entry_rate", "conversion", "aov")


class InvalidGmv(ValidationFailed):
    """GMV decomposition parameters that cannot be used."""

    code = "invalid_gmv"


@dataclass(frozen=True)
class Period:
    """Brand days ``start`` … ``end``, inclusive."""

    start: date
    end: date

    def check(self, today: date, name: str) -> None:
        """Raise InvalidGmv unless the period is well formed and not in the future."""
        if self.start > self.end:
            raise InvalidGmv(f"{name}: {self.start} is after {self.end}")
        if self.end > today:
            raise InvalidGmv(f"{name}: {self.end} is in the future (today is {today})", code="as_of_in_future")
        if (self.end - self.start).days > 731:
            raise InvalidGmv(f"{name}: a period spans at most 732 days")

    def before(self) -> Period:
        """Return the period of the same length just before this one."""
        days = (self.end - self.start).days + 1
        return Period(self.start - timedelta(days=days), self.start - timedelta(days=1))

    def bounds(self, tz: ZoneInfo) -> tuple[int, int]:
        """Return epoch seconds of the first instant and of the instant after the period."""
        return (int(datetime.combine(self.start, time.min, tzinfo=tz).timestamp()),
                int(datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz).timestamp()))


@dataclass(frozen=True)
class Totals:
    """A period's counts and GMV (fen) and the factors they make."""

    period: Period
    traffic: int
    entered: int
    buyers: int
    orders: int
    gmv_fen: int

    def factors(self) -> dict[str, Decimal | int | None]:
        """Return traffic, entry rate, conversion and AOV (yuan per buyer); None when undefined (0 / 0)."""
        return {"traffic": self.traffic, "entry_rate": _ratio(self.entered, self.traffic),
                "conversion": _ratio(self.buyers, self.entered),
                "aov": (from_fen(self.gmv_fen) / self.buyers).quantize(CENT) if self.buyers else None}


@dataclass(frozen=True)
class Decomposition:
    """Both periods and the change of GMV (fen) split per factor; the parts sum to the change."""

    base: Totals
    current: Totals
    parts_fen: dict[str, int]
    method: str
    engine: str

    @property
    def change_fen(self) -> int:
        """Return current GMV less base GMV, in fen."""
        return self.current.gmv_fen - self.base.gmv_fen


def _ratio(a: int, b: int) -> Decimal | None:
    return (Decimal(a) / Decimal(b)).quantize(Decimal("0.000001")) if b else None


def totals(facts: Facts, period: Period, tz: ZoneInfo, entry_events: tuple[str, ...] = ENTRY_EVENTS) -> Totals:
    """Return the period's traffic, entered customers, buyers, paid orders and GMV."""
    low, high = period.bounds(tz)
    ev = facts.table("events")  # customer_id: the event's identity's customer now (OneID)
    ev = ev.filter(during(facts, ev.occurred_at, low, high) & ev.customer_id.notnull())
    touches = ev.select("customer_id", entry=ev.type.isin(list(entry_events)), buy=ibis.literal(False),
                        net=ibis.literal(0, "int64"))
    paid = paid_order_rows(facts, high, low)
    buys = paid.select("customer_id", entry=ibis.literal(True), buy=ibis.literal(True), net=paid.net.cast("int64"))
    rows = touches.union(buys, distinct=False)
    per = rows.group_by("customer_id").aggregate(entry=rows.entry.any(), buy=rows.buy.any(),
                                                 orders=rows.buy.ifelse(1, 0).sum(), net=rows.net.sum())
    out = per.aggregate(traffic=per.count(), entered=per.entry.ifelse(1, 0).sum(), buyers=per.buy.ifelse(1, 0).sum(),
                        orders=per.orders.sum(), gmv=per.net.sum()).to_pyarrow().to_pylist()[0]
    return Totals(period, int(out["traffic"] or 0), int(out["entered"] or 0), int(out["buyers"] or 0),
                  int(out["orders"] or 0), int(out["gmv"] or 0))


def _values(t: Totals) -> list[float]:
    """Return the four factors as floats for the logarithms (0 where undefined)."""
    return [float(t.traffic), t.entered / t.traffic if t.traffic else 0.0, t.buyers / t.entered if t.entered else 0.0,
            t.gmv_fen / t.buyers if t.buyers else 0.0]


def _log_mean(a: float, b: float) -> float:
    return a if a == b else (a - b) / (math.log(a) - math.log(b))


def lmdi(base: Totals, current: Totals) -> dict[str, float]:
    """Return each factor's share of the GMV change (fen, unrounded); they sum to the change."""
    v0, v1 = float(base.gmv_fen), float(current.gmv_fen)
    x0, x1 = _values(base), _values(current)
    if v0 > 0 and v1 > 0:
        weight = _log_mean(v1, v0)
        return {name: weight * math.log(b / a) for name, a, b in zip(FACTORS, x0, x1, strict=True)}
    parts = dict.fromkeys(FACTORS, 0.0)
    if v0 == v1:
        return parts
    zero_side = x0 if v0 == 0 else x1
    first_zero = next(name for name, x in zip(FACTORS, zero_side, strict=True) if x == 0)
    parts[first_zero] = v1 - v0
    return parts


def round_parts(parts: dict[str, float], total: int) -> dict[str, int]:
    """Round parts to whole fen so they sum to ``total`` exactly (largest remainder)."""
    rounded = {k: round(v) for k, v in parts.items()}
    gap = total - sum(rounded.values())
    order = sorted(parts, key=lambda k: parts[k] - rounded[k], reverse=gap > 0)
    for k in order[:abs(gap)]:
        rounded[k] += 1 if gap > 0 else -1
    return rounded


def decompose(facts: Facts, current: Period, base: Period, tz: ZoneInfo,
              entry_events: tuple[str, ...] = ENTRY_EVENTS) -> Decomposition:
    """Return both periods' factors and the change of GMV attributed to each factor."""
    now, before = totals(facts, current, tz, entry_events), totals(facts, base, tz, entry_events)
    parts = round_parts(lmdi(before, now), now.gmv_fen - before.gmv_fen)
    method = "lmdi" if before.gmv_fen > 0 and now.gmv_fen > 0 else "zero_period_limit"
    return Decomposition(before, now, parts, method, facts.engine)


def as_dict(d: Decomposition) -> dict[str, Any]:
    """Return the decomposition as plain data (money as Decimal yuan)."""
    def period(t: Totals) -> dict[str, Any]:
        return {"start": t.period.start, "end": t.period.end, "traffic": t.traffic, "entered": t.entered,
                "buyers": t.buyers, "orders": t.orders, "gmv": from_fen(t.gmv_fen), **t.factors()}
    return {"engine": d.engine, "method": d.method, "base": period(d.base), "current": period(d.current),
            "change": from_fen(d.change_fen), "parts": [{"factor": k, "amount": from_fen(v)} for k, v in d.parts_fen.items()]}

"""Channel attribution: the customers each channel code acquired in a period, and what they paid within
N days of being acquired.

Definitions (docs/analytics.md#channel-attribution), one Ibis expression on every engine:

- A customer is **acquired by** the channel code recorded as their first touch, **at** the earliest
  follow relation opened through that code by any of their identities (OneID); customers acquired
  from ``start`` to ``end`` (brand days, inclusive) are counted.
- **Revenue within N days**: their orders paid in the N × 24 hours from the acquisition, less the
  refunds of those orders that happened within the same N days. **Buyers**: acquired customers with
  such an order.
- **Complete**: customers whose N days had ended by ``now`` (the rest have had less time to buy).
- Costs and ROI are added by :mod:`siyu.analytics.growth_reports` from the costs entered per code
  (:mod:`siyu.domains.channel_costs`): ROI = (revenue − cost) ÷ cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from siyu.analytics.engines import Facts
from siyu.errors import ValidationFailed


class InvalidAttribution(ValidationFailed):
    """Attribution parameters that cannot be used."""

    code = "invalid_attribution"


@dataclass(frozen=True)
class AttributionParams:
    """Customers acquired from ``start`` to ``end``; revenue within ``days`` days of acquisition."""

    start: date
    end: date
    days: int = 30

    def check(self, today: date) -> None:
        """Raise InvalidAttribution when the parameters cannot give a meaningful answer."""
        if self.end > today:
            raise InvalidAttribution(f"to {self.end} is in the future (today is {today})", code="as_of_in_future")
        if self.start > self.end:
            raise InvalidAttribution(f"from {self.start} is after to {self.end}")
        if not 1 <= self.days <= 3660:
            raise InvalidAttribution(f"days must be 1–3660, got {self.days}")

    def bounds(self, tz: ZoneInfo) -> tuple[int, int]:
        """Return epoch seconds of the first instant and of the instant after the period."""
        return (int(datetime.combine(self.start, time.min, tzinfo=tz).timestamp()),
                int(datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz).timestamp()))


def acquisitions(facts: Facts, params: AttributionParams, tz: ZoneInfo) -> ibis.Table:
    """Return (customer_id, code, acquired_s) of the customers acquired in the period."""
    low, high = params.bounds(tz)
    cust, own, idents = facts.table("customers"), facts.table("ownerships"), facts.table("identities")
    rel = own.filter(own.channel_code_id.notnull()).inner_join(idents, own.identity_id == idents.id)
    rel = rel.select(r_customer=rel.customer_id, r_code=rel.channel_code_id,
                     added=rel.added_at.epoch_seconds().floor().cast("int64"))
    src = cust.filter(cust.source_channel_code_id.notnull()).select(customer_id=cust.id, code=cust.source_channel_code_id)
    hits = src.inner_join(rel, (src.customer_id == rel.r_customer) & (src.code == rel.r_code))
    first = hits.group_by("customer_id", "code").aggregate(acquired_s=hits.added.min())
    return first.filter((first.acquired_s >= low) & (first.acquired_s < high))


def compute(facts: Facts, params: AttributionParams, tz: ZoneInfo, now_s: int) -> list[dict[str, Any]]:
    """Return per channel code: acquired, complete, buyers, orders and revenue (fen) within N days."""
    acq = acquisitions(facts, params, tz)
    span = params.days * 86400
    orders, ofacts = facts.table("orders"), facts.table("order_facts")
    paid = orders.filter(orders.paid_at.notnull() & orders.customer_id.notnull()).select(
        order_pk=orders.id, o_customer=orders.customer_id, amount=orders.amount_fen,
        paid_s=orders.paid_at.epoch_seconds().floor().cast("int64"))
    inside = acq.inner_join(paid, acq.customer_id == paid.o_customer)
    inside = inside.filter((inside.paid_s >= inside.acquired_s) & (inside.paid_s < inside.acquired_s + span))
    refunds = ofacts.filter(ofacts.status == "refunded").select(
        r_order=ofacts.order_pk, r_amount=ofacts.amount_fen, r_s=ofacts.occurred_at.epoch_seconds().floor().cast("int64"))
    due = inside.select("order_pk", deadline=inside.acquired_s + span)
    with_r = due.inner_join(refunds, due.order_pk == refunds.r_order)
    back = with_r.filter(with_r.r_s < with_r.deadline).group_by("order_pk").aggregate(refunded=with_r.r_amount.sum())
    sold = inside.left_join(back, inside.order_pk == back.order_pk)
    per = sold.group_by("customer_id").aggregate(orders=sold.count(),
                                                  revenue=(sold.amount - sold.refunded.fill_null(0)).sum())
    rows = acq.left_join(per, acq.customer_id == per.customer_id)
    agg = rows.group_by("code").aggregate(
        acquired=rows.count(), complete=(rows.acquired_s + span <= now_s).ifelse(1, 0).sum(),
        buyers=rows.orders.notnull().ifelse(1, 0).sum(), orders=rows.orders.fill_null(0).sum(),
        revenue=rows.revenue.fill_null(0).sum())
    out = [{k: int(v or 0) for k, v in r.items()} for r in agg.to_pyarrow().to_pylist()]
    return sorted(out, key=lambda r: (-r["revenue"], r["code"]))

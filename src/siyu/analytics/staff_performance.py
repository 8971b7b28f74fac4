"""Staff performance over a period: customers owned and added, orders and revenue of owned customers,
and how many of the new contacts bought.

Definitions (docs/analytics.md#staff-performance), one Ibis expression on every engine:

- **Owned at the end**: customers (after OneID) with a follow relation with the staff member open at
  the end of ``end``. **Added**: customers who opened a relation with the member in the period, not by
  a transfer (transfers move relations, they do not win customers).
- **Orders and revenue of owned customers**: orders paid in the period by customers who had a
  relation with the member open at the payment time, net of the refunds that happened by the period's
  end. A customer followed by two members counts for both (both serve them), so members' revenue can
  add up to more than the brand's.
- **New-contact conversion**: of the customers added in the period, those with a paid order in the
  ``within_days`` × 24 hours after their first relation with the member opened in the period.
- Reply rate and first-reply time come from WeCom's daily statistics (``staff_behavior_daily``) and
  are added by :mod:`siyu.analytics.growth_reports`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from siyu.analytics.engines import Facts
from siyu.analytics.purchases import paid_order_rows
from siyu.errors import ValidationFailed


class InvalidStaffPerformance(ValidationFailed):
    """Staff performance parameters that cannot be used."""

    code = "invalid_staff_performance"


@dataclass(frozen=True)
class StaffParams:
    """Brand days ``start`` … ``end``; a new contact converts by paying within ``within_days``."""

    start: date
    end: date
    within_days: int = 30

    def check(self, today: date) -> None:
        """Raise InvalidStaffPerformance when the parameters cannot give a meaningful answer."""
        if self.end > today:
            raise InvalidStaffPerformance(f"to {self.end} is in the future (today is {today})", code="as_of_in_future")
        if self.start > self.end:
            raise InvalidStaffPerformance(f"from {self.start} is after to {self.end}")
        if not 1 <= self.within_days <= 3660:
            raise InvalidStaffPerformance(f"within_days must be 1–3660, got {self.within_days}")

    def bounds(self, tz: ZoneInfo) -> tuple[int, int]:
        """Return epoch seconds of the first instant and of the instant after the period."""
        return (int(datetime.combine(self.start, time.min, tzinfo=tz).timestamp()),
                int(datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz).timestamp()))


def relations(facts: Facts) -> ibis.Table:
    """Return every follow relation as (customer_id, staff_id, source, added, removed) in epoch seconds."""
    own, idents = facts.table("ownerships"), facts.table("identities")
    rel = own.inner_join(idents, own.identity_id == idents.id)
    return rel.select(customer_id=rel.customer_id, staff_id=rel.staff_id, source=rel.source,
                      added=rel.added_at.epoch_seconds().floor().cast("int64"),
                      removed=rel.removed_at.epoch_seconds().floor().cast("int64"))


def compute(facts: Facts, params: StaffParams, tz: ZoneInfo) -> dict[int, dict[str, int]]:
    """Return per staff id: owned, added, converted, orders and revenue (fen)."""
    low, high = params.bounds(tz)
    rel = relations(facts)
    owned = rel.filter((rel.added < high) & (rel.removed.isnull() | (rel.removed >= high)))
    owned = owned.group_by("staff_id").aggregate(owned=owned.customer_id.nunique())
    new = rel.filter((rel.added >= low) & (rel.added < high) & (rel.source != "transfer"))
    new = new.group_by("staff_id", "customer_id").aggregate(added_s=new.added.min())
    paid = paid_order_rows(facts, high)
    sold = paid.inner_join(rel, paid.customer_id == rel.customer_id)
    sold = sold.filter((sold.paid_s >= low) & (sold.added <= sold.paid_s)
                       & (sold.removed.isnull() | (sold.removed > sold.paid_s)))
    sold = sold.select("staff_id", "order_pk", "net").distinct()  # two open relations, one member: once
    sales = sold.group_by("staff_id").aggregate(orders=sold.count(), revenue=sold.net.sum())
    all_paid = paid_order_rows(facts, high + params.within_days * 86400)
    hits = new.inner_join(all_paid, new.customer_id == all_paid.customer_id)
    hits = hits.filter((hits.paid_s >= hits.added_s) & (hits.paid_s < hits.added_s + params.within_days * 86400))
    converted = hits.select("staff_id", "customer_id").distinct().group_by("staff_id").aggregate(converted=ibis._.count())
    added = new.group_by("staff_id").aggregate(added=new.count())
    out: dict[int, dict[str, int]] = {}
    for name, table in (("owned", owned), ("added", added), ("converted", converted), ("sales", sales)):
        for row in table.to_pyarrow().to_pylist():
            entry = out.setdefault(int(row["staff_id"]), dict.fromkeys(("owned", "added", "converted", "orders",
                                                                        "revenue"), 0))
            entry.update({k: int(v or 0) for k, v in row.items() if k != "staff_id"})
    return out


def as_rows(per_staff: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    """Return the members' figures as rows, most revenue first."""
    return sorted(({"staff_id": sid, **v} for sid, v in per_staff.items()), key=lambda r: (-r["revenue"], r["staff_id"]))

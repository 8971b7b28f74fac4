"""Distinct customers over any period as sums of day-keyed counts (pure functions, no SQL).

"Customers active in a period" is not the sum of "customers active each day": one customer active on
five days counts once. Summaries keyed by day can still answer it exactly. List one customer's items
in time order (the days they were active; one entry per paid order, on the day it was placed). In a
period [a, b] the customer's items form one contiguous run of m items, so with

- ``items(a, b)``: items whose day lies in [a, b],
- ``pairs_k(a, b)``: pairs of items k apart in the list (item i-k, item i) with both days in [a, b],

the run contributes m items, max(m-1, 0) pairs one apart and max(m-2, 0) pairs two apart, hence

- customers with at least one item = items − pairs_1,
- customers with at least two items = pairs_1 − pairs_2.

Each pair is stored under (its first day, its last day); a pair lies in [a, b] when
first day ≥ a and last day ≤ b. A pair further apart than the longest period asked for can never lie
inside one, so pairs more than ``MAX_SPAN`` days apart are not stored (the dashboard allows 366 days).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MAX_SPAN = 366

ACTIVE = "active"  # daily: customers active on the day
PAID = "paid"  # daily: paid orders placed on the day (from customers' order lists)
NEW_CUSTOMERS = "new_customers"  # daily by source platform: live customers first seen on the day
ACTIVE_PAIRS = "active1"  # spans: consecutive active days
PAID_PAIRS = "paid1"  # spans: consecutive paid orders
PAID_PAIRS_2 = "paid2"  # spans: paid orders two apart


@dataclass(frozen=True)
class Contribution:
    """What one customer adds to the summaries: live, followed, first day, platform, days."""

    live: bool = False
    followed: bool = False
    first_day: int | None = None  # day ordinal
    platform: str | None = None
    active: tuple[int, ...] = ()  # ascending day ordinals, each once
    paid: tuple[tuple[int, int], ...] = ()  # ascending (day ordinal, paid orders placed that day)

    def encode(self) -> tuple[str, str]:
        """Return the active and paid lists as compact text (stored in ``health_customers``)."""
        return (",".join(map(str, self.active)), ",".join(f"{d}:{n}" for d, n in self.paid))

    @staticmethod
    def decode_days(active: str, paid: str) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
        """Return the lists :meth:`encode` wrote."""
        days = tuple(int(d) for d in active.split(",")) if active else ()
        orders = tuple((int(d), int(n)) for d, n in (p.split(":") for p in paid.split(","))) if paid else ()
        return days, orders


@dataclass
class Delta:
    """Changes to apply to the summary tables: daily values, span counts, followed customers."""

    daily: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    spans: Counter[tuple[str, int, int]] = field(default_factory=Counter)
    followed: int = 0

    def add(self, c: Contribution, sign: int) -> None:
        """Add (sign 1) or take back (sign -1) one customer's contribution."""
        if not c.live:
            return
        self.followed += sign * c.followed
        if c.first_day is not None:
            self.daily[(NEW_CUSTOMERS, c.first_day, c.platform or "")] += sign
        for day in c.active:
            self.daily[(ACTIVE, day, "")] += sign
        _pairs(self.spans, ACTIVE_PAIRS, c.active, 1, sign)
        orders = [d for d, n in c.paid for _ in range(n)]
        for day, n in c.paid:
            self.daily[(PAID, day, "")] += sign * n
        _pairs(self.spans, PAID_PAIRS, orders, 1, sign)
        _pairs(self.spans, PAID_PAIRS_2, orders, 2, sign)


def _pairs(into: Counter[tuple[str, int, int]], metric: str, days: tuple[int, ...] | list[int], k: int,
           sign: int) -> None:
    for i in range(k, len(days)):
        if days[i] - days[i - k] <= MAX_SPAN:
            into[(metric, days[i], days[i - k])] += sign


def at_least(items: int, pairs: int) -> int:
    """Return the customers with at least one item from items and pairs (see the module's note)."""
    return items - pairs

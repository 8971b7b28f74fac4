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

Counting the pairs inside a long period directly reads most of the table. Each pair is therefore also
counted per day by its last day (``<pair>:e``) and by its first day (``<pair>:s``), so that

    pairs inside [a, b] = pairs ending by b − pairs starting before a + pairs spanning [a, b]

where the first two are sums over days and the last reads only pairs that start before a and end
after b: none at all for a period of ``MAX_SPAN`` days, few for a long one. ``<pair>:d`` counts the
pairs whose two items fall on one day (paid orders only), the day's own pairs.

The same holds per dimension (a staff member, a channel code, a group): a customer's item list for
"added staff member 12" gives the distinct customers who added staff member 12 in any period. Lists
of that kind hold distinct days (a customer who adds the same staff member twice in a day counts once
that day), and their pairs are stored under the pair metric ``<metric>1`` and the dimension.
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

# Item lists kept per customer (days, each once), by dimension:
ADDED_STAFF = "added_staff"  # dim staff id: days the customer added that staff member (a transfer is not an add)
ADDED_CODE = "added_code"  # dim channel code id ('' without a code): days of such adds
DELETED_STAFF = "deleted_staff"  # dim staff id: days the customer deleted that staff member
JOINED_GROUP = "joined_group"  # dim group id: days the customer joined that group
LEFT_GROUP = "left_group"  # dim group id: days the customer left that group
STORED = (ADDED_STAFF, ADDED_CODE, DELETED_STAFF, JOINED_GROUP, LEFT_GROUP)
# ... and lists derived from them or from the customer's moves (dim ''):
ADDED = "added"  # any staff member added
DELETED = "deleted"  # any staff member deleted
JOINED = "joined"  # any group joined
LEFT = "left"  # any group left
ENTERED = "entered"  # entered the private domain (first connection, or a return after a loss)
LOST = "lost"  # lost from the private domain (the last remaining connection ended)
UNIONS = {ADDED: ADDED_STAFF, DELETED: DELETED_STAFF, JOINED: JOINED_GROUP, LEFT: LEFT_GROUP}
# Entries and exits counted as moves, not customers: the private domain's size at the end of day d
# is the sum of IN_MOVES - OUT_MOVES over the days up to d.
IN_MOVES = "in_n"
OUT_MOVES = "out_n"
# State (now) a customer counts in: "followed:<staff id>", "members:<group id>".
FOLLOWED = "followed:"
MEMBERS = "members:"


def pair_metric(metric: str) -> str:
    """Return the spans metric holding pairs of consecutive items of an item list."""
    return f"{metric}1"


Items = tuple[tuple[str, str, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Contribution:
    """What one customer adds to the summaries (days are day ordinals of the brand's calendar)."""

    live: bool = False
    first_day: int | None = None
    platform: str | None = None
    active: tuple[int, ...] = ()  # ascending, each once
    paid: tuple[tuple[int, int], ...] = ()  # ascending (day, paid orders placed that day)
    items: Items = ()  # (metric, dim, ascending distinct days) of the STORED metrics, sorted
    moves: tuple[int, ...] = ()  # private-domain moves in time order: day for an entry, -day for an exit
    now: tuple[str, ...] = ()  # state names the customer counts in now, sorted

    def all_items(self) -> Items:
        """Return the stored item lists and those derived from them and from the moves."""
        unions: dict[str, set[int]] = {}
        for metric, _dim, days in self.items:
            for derived, base in UNIONS.items():
                if metric == base:
                    unions.setdefault(derived, set()).update(days)
        derived_lists = [(m, "", tuple(sorted(d))) for m, d in sorted(unions.items())]
        entered = tuple(sorted({m for m in self.moves if m > 0}))
        lost = tuple(sorted({-m for m in self.moves if m < 0}))
        moves = [(m, "", d) for m, d in ((ENTERED, entered), (LOST, lost)) if d]
        return (*self.items, *derived_lists, *moves)

    def encode(self) -> dict[str, str]:
        """Return the lists as compact text (the columns of ``health_customers``)."""
        return {"active": ",".join(map(str, self.active)),
                "paid": ",".join(f"{d}:{n}" for d, n in self.paid),
                "items": ";".join(f"{m}/{dim}:{','.join(map(str, days))}" for m, dim, days in self.items),
                "moves": ",".join(map(str, self.moves)),
                "now": ",".join(self.now)}

    @staticmethod
    def decode(live: bool, first_day: int | None, platform: str | None, text: dict[str, str]) -> Contribution:
        """Return the contribution :meth:`encode` wrote."""
        active = tuple(int(d) for d in text["active"].split(",")) if text["active"] else ()
        paid = tuple((int(d), int(n)) for d, n in (p.split(":") for p in text["paid"].split(","))) \
            if text["paid"] else ()
        items = []
        for part in text["items"].split(";") if text["items"] else ():
            key, days = part.split(":")
            metric, dim = key.split("/")
            items.append((metric, dim, tuple(int(d) for d in days.split(","))))
        moves = tuple(int(m) for m in text["moves"].split(",")) if text["moves"] else ()
        now = tuple(text["now"].split(",")) if text["now"] else ()
        return Contribution(live, first_day, platform, active, paid, tuple(items), moves, now)


@dataclass
class Delta:
    """Changes to apply to the summary tables: daily values, span counts, state counts."""

    daily: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    spans: Counter[tuple[str, str, int, int]] = field(default_factory=Counter)
    state: Counter[str] = field(default_factory=Counter)

    def add(self, c: Contribution, sign: int) -> None:
        """Add (sign 1) or take back (sign -1) one customer's contribution."""
        if not c.live:
            return
        for name in c.now:
            self.state[name] += sign
        if c.first_day is not None:
            self.daily[(NEW_CUSTOMERS, c.first_day, c.platform or "")] += sign
        for day in c.active:
            self.daily[(ACTIVE, day, "")] += sign
        _pairs(self, ACTIVE_PAIRS, "", c.active, 1, sign)
        orders = [d for d, n in c.paid for _ in range(n)]
        for day, n in c.paid:
            self.daily[(PAID, day, "")] += sign * n
        _pairs(self, PAID_PAIRS, "", orders, 1, sign)
        _pairs(self, PAID_PAIRS_2, "", orders, 2, sign)
        for metric, dim, days in c.all_items():
            for day in days:
                self.daily[(metric, day, dim)] += sign
            _pairs(self, pair_metric(metric), dim, days, 1, sign)
        for move in c.moves:
            self.daily[(IN_MOVES, move, "") if move > 0 else (OUT_MOVES, -move, "")] += sign

    def merge(self, other: Delta) -> None:
        """Add another delta's changes to this one."""
        self.daily.update(other.daily)
        self.spans.update(other.spans)
        self.state.update(other.state)


def _pairs(delta: Delta, metric: str, dim: str, days: tuple[int, ...] | list[int], k: int, sign: int) -> None:
    for i in range(k, len(days)):
        end, start = days[i], days[i - k]
        if end - start <= MAX_SPAN:
            delta.spans[(metric, dim, end, start)] += sign
            delta.daily[(f"{metric}:e", end, dim)] += sign
            delta.daily[(f"{metric}:s", start, dim)] += sign
            if end == start:
                delta.daily[(f"{metric}:d", end, dim)] += sign


def at_least(items: int, pairs: int) -> int:
    """Return the customers with at least one item from items and pairs (see the module's note)."""
    return items - pairs

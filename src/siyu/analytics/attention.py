"""Churn warnings and purchase intent: where a staff member's limited time pays today.

"The algorithm does not need to be deep, only good enough to put limited staff time on high-intent
customers." Both lists are computed with the scores (:mod:`siyu.analytics.scores`) as of a day and
stored per customer in ``customer_scores``; each staff member's lists are the customers they follow,
ranked (docs/clv.md, "Churn warnings and intent"). Definitions, with ``as_of`` the scoring day:

**Churn warning** (buyers only; time in whole brand days):

- *P(alive) falling*: P(alive) as of the as-of day is at least ``min_drop`` (default 0.2) below the same
  customer's P(alive) as of ``compare_days`` (default 30) earlier. Both are computed with the **same**
  fit (the one as of the as-of day) from the customer's purchases up to each day: two values stored
  by two write-backs would mix a refitted model with the customer's change, so every customer's P(alive)
  would "fall" or "rise" whenever the parameters moved.
- *Silent well past the usual gap*: the customer has at least ``min_repeats`` (default 2) repeat purchase
  days, so at least two gaps; their usual gap is the mean number of days between consecutive purchase
  days, ``recency / repeats``; and the days since their last purchase day exceed ``overdue_factor``
  (default 2) times that gap.
- **Value at stake** of a warned customer = (P(alive) then − P(alive) now)⁺ × CLV now (yuan): how much
  expected value the recent silence took away, weighted by the chance the customer is still there
  to be won back (CLV already carries P(alive)). The at-risk list is ranked by it, largest first: a
  long-dead customer (low P(alive), low CLV) or one whose P(alive) barely moved ranks low, a valuable
  customer slipping right now ranks high.

**High intent**: in the ``intent_days`` (default 7) days ending with the as-of day, the customer showed
an interest signal — an event of :data:`INTENT_EVENTS` (the AIPL interest stage: clicks, favourites,
shares of content, leads, joining a group, adding a staff member) or an **open order** (placed in the
window, not paid and not cancelled by its end, a checkout left half-way) — and paid **no order** in
the window (an order paid in the window converted the intent already). Ranking: **intent value** =
strength × expected spend per purchase, where strength = the number of days with an interest signal
(1–7) + :data:`OPEN_ORDER_WEIGHT` when an order is open (the closest thing to a purchase), and the expected
spend is the Gamma-Gamma estimate (the population mean for customers who never bought again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import ibis
import numpy as np
from ibis import _

from siyu.analytics import aipl
from siyu.analytics.customer_value import day_cut
from siyu.analytics.engines import Facts
from siyu.analytics.purchases import paid_orders
from siyu.analytics.rfm import DAY, RfmParams, window_epochs
from siyu.errors import ValidationFailed

INTENT_EVENTS: tuple[str, ...] = tuple(sorted({e for alt in aipl.DEFAULT["interest"] for e in alt.events}))
OPEN_ORDER_WEIGHT = 3


class InvalidAttention(ValidationFailed):
    """Churn or intent parameters that cannot be used."""

    code = "invalid_attention"


@dataclass(frozen=True)
class AttentionParams:
    """The thresholds of the churn warning and the intent window (defaults in the module docstring)."""

    compare_days: int = 30
    min_drop: float = 0.2
    overdue_factor: float = 2.0
    min_repeats: int = 2
    intent_days: int = 7

    def __post_init__(self) -> None:
        if not 1 <= self.compare_days <= 365:
            raise InvalidAttention(f"compare_days must be 1–365, got {self.compare_days}")
        if not 0.0 < self.min_drop <= 1.0:
            raise InvalidAttention(f"min_drop must be in (0, 1], got {self.min_drop}")
        if not 1.0 <= self.overdue_factor <= 100.0:
            raise InvalidAttention(f"overdue_factor must be 1–100, got {self.overdue_factor}")
        if not 1 <= self.min_repeats <= 100:
            raise InvalidAttention(f"min_repeats must be 1–100, got {self.min_repeats}")
        if not 1 <= self.intent_days <= 90:
            raise InvalidAttention(f"intent_days must be 1–90, got {self.intent_days}")


def intent_signals(facts: Facts, as_of: date, tz: ZoneInfo, params: AttentionParams) -> ibis.Table:
    """Return, per customer with a signal in the intent window: intent_days, open_order, last_signal_s, paid."""
    start, end = window_epochs(RfmParams(as_of, params.intent_days), tz)
    offset = day_cut(as_of, tz)[0]  # brand days are (epoch + offset) // DAY
    idents = facts.table("identities")
    ev = facts.table("events")
    seconds = ev.occurred_at.epoch_seconds().floor().cast("int64")
    ev = ev.filter(ev.type.isin(list(INTENT_EVENTS)) & (seconds >= start) & (seconds < end)).mutate(s=seconds)
    ev = ev.inner_join(idents, ev.identity_id == idents.id)
    by_events = ev.group_by("customer_id").aggregate(intent_days=((_.s + offset) // DAY).nunique(), last_s=_.s.max())
    orders, order_facts = facts.table("orders"), facts.table("order_facts")
    placed = orders.placed_at.epoch_seconds().floor().cast("int64")
    cancelled = order_facts.filter((order_facts.status == "cancelled") & (order_facts.occurred_at.epoch_seconds() < end))
    open_ = orders.filter((placed >= start) & (placed < end)
                          & (orders.paid_at.isnull() | (orders.paid_at.epoch_seconds() >= end))
                          & ~orders.id.isin(cancelled.order_pk)).mutate(s=placed)
    open_ = open_.inner_join(idents, open_.identity_id == idents.id)
    by_orders = open_.group_by("customer_id").aggregate(open_s=_.s.max())
    paid = paid_orders(facts, end)
    bought = paid.filter((paid.paid_s >= start) & (paid.net > 0)).select("customer_id").distinct()
    people = by_events.select("customer_id").union(by_orders.select("customer_id"), distinct=True)
    t = attach(attach(attach(people, by_events), by_orders), bought.mutate(paid=ibis.literal(True)))
    return t.select("customer_id", intent_days=t.intent_days.fill_null(0), open_order=t.open_s.notnull(),
                    last_signal_s=ibis.greatest(t.last_s.fill_null(0), t.open_s.fill_null(0)),
                    paid=t.paid.fill_null(False))


def attach(base: ibis.Table, side: ibis.Table) -> ibis.Table:
    """Left-join ``side`` on customer_id, keeping one customer_id column."""
    side = side.rename(customer_key="customer_id")
    return base.left_join(side, base.customer_id == side.customer_key).drop("customer_key")


def churn_flags(p_alive: np.ndarray, p_alive_prev: np.ndarray, repeats: np.ndarray, recency_days: np.ndarray,
                silent_days: np.ndarray, params: AttentionParams) -> tuple[np.ndarray, np.ndarray]:
    """Return (P(alive) falling, overdue) per buyer; NaN inputs (no value then) never warn."""
    with np.errstate(invalid="ignore"):
        falling = np.nan_to_num(p_alive_prev - p_alive, nan=-1.0) >= params.min_drop
        gap = np.where(repeats > 0, recency_days / np.where(repeats > 0, repeats, 1), np.nan)
        overdue = (repeats >= params.min_repeats) & (np.nan_to_num(silent_days - params.overdue_factor * gap,
                                                                   nan=-1.0) > 0)
    return falling, overdue


def value_at_stake(p_alive: np.ndarray, p_alive_prev: np.ndarray, clv_fen: np.ndarray) -> np.ndarray:
    """Return (P(alive) then − now)⁺ × CLV now (fen); 0 where either P(alive) is unknown."""
    drop = np.nan_to_num(p_alive_prev - p_alive, nan=0.0)
    return np.clip(drop, 0.0, None) * np.nan_to_num(clv_fen, nan=0.0)


def intent_value(intent_days: np.ndarray, open_order: np.ndarray, spend_fen: np.ndarray) -> np.ndarray:
    """Return strength (signal days + OPEN_ORDER_WEIGHT for an open order) × expected spend (fen)."""
    return (intent_days + OPEN_ORDER_WEIGHT * open_order.astype(np.float64)) * spend_fen

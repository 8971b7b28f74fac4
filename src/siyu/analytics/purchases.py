"""Paid orders as the analyses see them: per customer after OneID, net of the refunds known by a time.

One definition shared by RFM, lifecycle and CLV: an order counts from its payment time; its value is
its amount less the refunds that happened before ``end`` (a refund after the as-of day is not known
as of that day); orders of every identity of a customer count for that customer, merged customers'
for the survivor. Times are whole epoch seconds: DuckDB and PostgreSQL give fractional epochs,
Spark floors, and day arithmetic needs the floor.
"""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
from ibis import _

from siyu.analytics.engines import Facts


def paid_orders(facts: Facts, end: int) -> ibis.Table:
    """Return (customer_id, paid_s, net) of every order paid before epoch second ``end``."""
    return paid_order_rows(facts, end).select("customer_id", "paid_s", "net")


def moment(facts: Facts, second: int) -> ibis.Value:
    """Return epoch second ``second`` as a timestamp literal comparable with the engine's time columns.

    Naive UTC where the mirror's columns are (DuckDB, Spark), aware on PostgreSQL's ``timestamptz``.
    """
    at = datetime.fromtimestamp(second, UTC)
    return ibis.literal(at if facts.engine == "postgres" else at.replace(tzinfo=None))


def during(facts: Facts, column: ibis.Value, low: int | None, high: int) -> ibis.BooleanValue:
    """Return whether a timestamp column falls in epoch seconds [``low``, ``high``), on the raw column.

    The same as comparing the floored epoch (the bounds are whole seconds), but an engine compares
    the stored timestamps directly and can skip row groups outside the range: computing the epoch of
    every row first cost most of a funnel's time over 50M events.
    """
    upper = column < moment(facts, high)
    return upper if low is None else (column >= moment(facts, low)) & upper


def late_refunds(facts: Facts, end: int) -> ibis.Table:
    """Return (order_pk, later): per order, the refunds that happened at or after epoch second ``end``.

    An order's ``refunded_fen`` sums all its refund facts; what was refunded by ``end`` is that less
    these. For a recent as-of day the set is nearly empty, so joining it costs little.
    """
    refunds = facts.table("order_facts")
    late = refunds.filter((refunds.status == "refunded") & (refunds.occurred_at >= moment(facts, end)))
    return late.group_by(order_pk=late.order_pk).aggregate(later=late.amount_fen.sum())


def paid_order_rows(facts: Facts, end: int, start: int | None = None) -> ibis.Table:
    """Return (order_pk, customer_id, paid_s, net) of every order paid before ``end`` (one row per order),
    and not before ``start`` when given; refunds are those that happened before ``end``.

    The late refunds are first joined to the orders that have a refund at all (5% of them), so the
    join with every order builds on that small set: DuckDB, expecting millions of late refunds where
    the 10M-order benchmark store has 2,193, otherwise built its hash table on all the orders (half
    of the CPU of a per-customer summary of them).
    """
    orders = facts.table("orders")
    paid = orders.filter(orders.paid_at.notnull() & during(facts, orders.paid_at, start, end))
    paid = paid.mutate(paid_s=paid.paid_at.epoch_seconds().floor().cast("int64"))
    later = late_refunds(facts, end)
    refunded = paid.filter(paid.refunded_fen > 0).select(refunded_pk="id")
    later = later.join(refunded, later.order_pk == refunded.refunded_pk).select("order_pk", "later")
    return (paid.left_join(later, paid.id == later.order_pk)  # customer_id: the identity's customer now
            .select(order_pk=_.id, customer_id=_.customer_id, paid_s=_.paid_s,
                    net=_.amount_fen - _.refunded_fen + _.later.fill_null(0)))

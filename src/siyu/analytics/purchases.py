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


def during(facts: Facts, column: ibis.Value, low: int | None, high: int) -> ibis.BooleanValue:
    """Return whether a timestamp column falls in epoch seconds [``low``, ``high``), on the raw column.

    The same as comparing the floored epoch (the bounds are whole seconds), but an engine compares
    the stored timestamps directly and can skip row groups outside the range: computing the epoch of
    every row first cost most of a funnel's time over 50M events. Literals are naive UTC where the
    mirror's columns are (DuckDB, Spark) and aware on PostgreSQL's ``timestamptz``.
    """
    def at(second: int) -> ibis.Value:
        moment = datetime.fromtimestamp(second, UTC)
        return ibis.literal(moment if facts.engine == "postgres" else moment.replace(tzinfo=None))
    upper = column < at(high)
    return upper if low is None else (column >= at(low)) & upper


def paid_order_rows(facts: Facts, end: int, start: int | None = None) -> ibis.Table:
    """Return (order_pk, customer_id, paid_s, net) of every order paid before ``end`` (one row per order),
    and not before ``start`` when given; refunds are those that happened before ``end``."""
    orders, refunds_t = facts.table("orders"), facts.table("order_facts")
    paid = orders.filter(orders.paid_at.notnull() & during(facts, orders.paid_at, start, end))
    paid = paid.mutate(paid_s=paid.paid_at.epoch_seconds().floor().cast("int64"))
    # refunds known by ``end`` = every refund (the order's refunded_fen sums its refund facts) less those
    # at or after ``end``: for a recent as-of day that set is nearly empty, so the join is with a few
    # rows instead of every refunded order
    later = (refunds_t.filter((refunds_t.status == "refunded") & (refunds_t.occurred_at.epoch_seconds() >= end))
             .group_by(order_pk=refunds_t.order_pk).aggregate(later=refunds_t.amount_fen.sum()))
    return (paid.left_join(later, paid.id == later.order_pk)  # customer_id: the identity's customer now
            .select(order_pk=_.id, customer_id=_.customer_id, paid_s=_.paid_s,
                    net=_.amount_fen - _.refunded_fen + _.later.fill_null(0)))

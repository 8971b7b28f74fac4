"""Paid orders as the analyses see them: per customer after OneID, net of the refunds known by a time.

One definition shared by RFM, lifecycle and CLV: an order counts from its payment time; its value is
its amount less the refunds that happened before ``end`` (a refund after the as-of day is not known
as of that day); orders of every identity of a customer count for that customer, merged customers'
for the survivor. Times are whole epoch seconds: DuckDB and PostgreSQL give fractional epochs,
Spark floors, and day arithmetic needs the floor.
"""

from __future__ import annotations

import ibis
from ibis import _

from siyu.analytics.engines import Facts


def paid_orders(facts: Facts, end: int) -> ibis.Table:
    """Return (customer_id, paid_s, net) of every order paid before epoch second ``end``."""
    orders, refunds_t, idents = facts.table("orders"), facts.table("order_facts"), facts.table("identities")
    paid = orders.filter(orders.paid_at.notnull()).mutate(paid_s=orders.paid_at.epoch_seconds().floor().cast("int64"))
    paid = paid.filter(paid.paid_s < end)
    refunds = (refunds_t.filter((refunds_t.status == "refunded") & (refunds_t.occurred_at.epoch_seconds() < end))
               .group_by(order_pk=refunds_t.order_pk).aggregate(refunded=refunds_t.amount_fen.sum()))
    return (paid.left_join(refunds, paid.id == refunds.order_pk).inner_join(idents, paid.identity_id == idents.id)
            .select(customer_id=_.customer_id, paid_s=_.paid_s, net=_.amount_fen - _.refunded.fill_null(0)))

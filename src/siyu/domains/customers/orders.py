"""One order of a customer, as the API and the console show it: lines and history, money in yuan.

Reached through the customer so the same visibility rules hold: a staff user sees only orders of
customers they follow, and an order of somebody else answers 404 like an unknown one.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.customers.schemas import LineOut, OrderDetailOut, OrderStateOut
from siyu.domains.customers.service import visible_customer
from siyu.domains.identity.service import identities_of
from siyu.domains.orders import LineEntry, order_detail
from siyu.errors import NotFound
from siyu.kit.money import from_fen


def _line(line: LineEntry) -> LineOut:
    return LineOut(sku=line.sku, name=line.name, category=line.category, quantity=line.quantity,
                   unit_price=str(from_fen(line.unit_price_fen)), amount=str(from_fen(line.amount_fen)))


def customer_order(session: Session, principal: Principal, customer_id: int, order_id: str) -> OrderDetailOut:
    """Return the order ``order_id`` of the customer ``customer_id`` (a merged id stands for its survivor)."""
    customer = visible_customer(session, principal, customer_id)
    found = order_detail(session, order_id, [i.id for i in identities_of(session, customer.id)])
    if found is None:
        raise NotFound(f"customer {customer.id} has no order {order_id!r}", code="order_not_found")
    o = found.order
    return OrderDetailOut(
        order_id=o.order_id, status=o.status, amount=str(from_fen(o.amount_fen)), refunded=str(from_fen(o.refunded_fen)),
        placed_at=o.placed_at, channel=o.channel, store=o.store, customer_id=customer.id, identity_id=found.identity_id,
        currency=found.currency, paid_at=found.paid_at, updated_at=found.updated_at,
        lines=[_line(line) for line in found.lines],
        history=[OrderStateOut(status=f.status, refund_id=f.refund_id, amount=str(from_fen(f.amount_fen)),
                               occurred_at=f.occurred_at, received_at=f.received_at, lines=[_line(x) for x in f.lines])
                 for f in found.history])

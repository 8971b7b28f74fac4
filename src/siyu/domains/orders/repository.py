"""Read-side SQL of orders: order facts by keyset and a per-identity-set summary.

Ingestion's bulk writes live with ingestion; this module only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, case, func, or_, select
from sqlalchemy.orm import Session

from siyu.domains.orders.models import Order, OrderFact, OrderFactItem, OrderItem


def facts_before(session: Session, identity_ids: Sequence[int], before: tuple[datetime, int] | None,
                 limit: int) -> list[Row[Any]]:
    """Return up to ``limit`` order facts of ``identity_ids`` older than ``before`` (at, id), newest first."""
    if not identity_ids:
        return []
    query = (select(OrderFact.id, OrderFact.occurred_at, OrderFact.status, OrderFact.amount_fen, Order.identity_id,
                    Order.order_id, Order.channel, Order.store)
             .join(Order, Order.id == OrderFact.order_pk)
             .where(Order.identity_id.in_(list(identity_ids))))
    if before is not None:
        at, row_id = before
        query = query.where(or_(OrderFact.occurred_at < at, and_(OrderFact.occurred_at == at, OrderFact.id < row_id)))
    return list(session.execute(query.order_by(OrderFact.occurred_at.desc(), OrderFact.id.desc()).limit(limit)))


def summary(session: Session, identity_ids: Sequence[int]) -> Row[Any]:
    """Return (count, paid_count, paid_fen, refunded_fen, first_at, last_at) over these identities' orders."""
    paid = Order.paid_at.is_not(None)
    query = select(
        func.count(Order.id),
        func.coalesce(func.sum(case((paid, 1), else_=0)), 0),
        func.coalesce(func.sum(case((paid, Order.amount_fen), else_=0)), 0),
        func.coalesce(func.sum(case((paid, Order.refunded_fen), else_=0)), 0),
        func.min(Order.placed_at),
        func.max(Order.placed_at),
    ).where(Order.identity_id.in_(list(identity_ids) or [-1]))
    return session.execute(query).one()


def recent(session: Session, identity_ids: Sequence[int], limit: int) -> list[Order]:
    """Return the newest ``limit`` orders of these identities by placement time."""
    if not identity_ids:
        return []
    query = (select(Order).where(Order.identity_id.in_(list(identity_ids)))
             .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit))
    return list(session.scalars(query))


def by_order_id(session: Session, order_id: str) -> Order | None:
    """Return the order with this external id."""
    return session.scalar(select(Order).where(Order.order_id == order_id))


def lines_of(session: Session, order_pk: int) -> list[OrderItem]:
    """Return the order's lines in the order they were sent."""
    return list(session.scalars(select(OrderItem).where(OrderItem.order_pk == order_pk).order_by(OrderItem.id)))


def facts_of(session: Session, order_pk: int) -> list[OrderFact]:
    """Return the order's facts oldest first."""
    return list(session.scalars(select(OrderFact).where(OrderFact.order_pk == order_pk)
                                .order_by(OrderFact.occurred_at, OrderFact.id)))


def fact_lines(session: Session, fact_pks: Sequence[int]) -> list[OrderFactItem]:
    """Return the lines these facts named, in the order they were sent."""
    if not fact_pks:
        return []
    return list(session.scalars(select(OrderFactItem).where(OrderFactItem.fact_pk.in_(list(fact_pks)))
                                .order_by(OrderFactItem.id)))

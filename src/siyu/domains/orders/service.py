"""Read rules of orders used by other domains: the customer's order facts, order summary and order detail.

Ingestion's writes live with ingestion; this module only reads. "Paid" means the order has a
payment time; its net value is the order amount less what was refunded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains.orders import repository as repo
from siyu.kit.time import ensure_utc


@dataclass(frozen=True, slots=True)
class OrderFactEntry:
    """One state of one order as the timeline shows it."""

    id: int
    at: datetime
    identity_id: int
    order_id: str
    status: str
    amount_fen: int
    channel: str | None
    store: str | None


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """What a set of identities bought: counts, paid value net of refunds (fen), first and last order."""

    count: int
    paid_count: int
    paid_net_fen: int
    refunded_fen: int
    first_order_at: datetime | None
    last_order_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderEntry:
    """An order's current state: amounts in fen."""

    id: int
    order_id: str
    status: str
    amount_fen: int
    refunded_fen: int
    placed_at: datetime
    channel: str | None
    store: str | None


@dataclass(frozen=True, slots=True)
class LineEntry:
    """One line of an order or of one of its facts; money in fen."""

    sku: str
    name: str | None
    category: str | None
    quantity: int
    unit_price_fen: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class FactEntry:
    """One state in an order's history with the lines it named (a partial refund's items)."""

    status: str
    refund_id: str | None
    amount_fen: int
    occurred_at: datetime
    received_at: datetime
    lines: list[LineEntry]


@dataclass(frozen=True, slots=True)
class OrderDetailEntry:
    """An order: its current state, its lines and its whole history."""

    order: OrderEntry
    identity_id: int
    currency: str
    paid_at: datetime | None
    updated_at: datetime
    lines: list[LineEntry]
    history: list[FactEntry]


def _line(row: Any) -> LineEntry:
    return LineEntry(row.sku, row.name, row.category, row.quantity, row.unit_price_fen, row.amount_fen)


def order_detail(session: Session, order_id: str, identity_ids: Sequence[int]) -> OrderDetailEntry | None:
    """Return the order ``order_id`` if it belongs to one of these identities, else None."""
    order = repo.by_order_id(session, order_id)
    if order is None or order.identity_id not in set(identity_ids):
        return None
    facts = repo.facts_of(session, order.id)
    named: dict[int, list[LineEntry]] = {}
    for row in repo.fact_lines(session, [f.id for f in facts]):
        named.setdefault(row.fact_pk, []).append(_line(row))
    history = [FactEntry(f.status, f.fact_key or None, f.amount_fen, ensure_utc(f.occurred_at), ensure_utc(f.received_at),
                         named.get(f.id, [])) for f in facts]
    return OrderDetailEntry(_entry(order), order.identity_id, order.currency,
                            ensure_utc(order.paid_at) if order.paid_at else None, ensure_utc(order.updated_at),
                            [_line(r) for r in repo.lines_of(session, order.id)], history)


def _entry(o: Any) -> OrderEntry:
    return OrderEntry(id=o.id, order_id=o.order_id, status=o.status, amount_fen=o.amount_fen,
                      refunded_fen=o.refunded_fen, placed_at=ensure_utc(o.placed_at), channel=o.channel, store=o.store)


def recent_orders(session: Session, identity_ids: Sequence[int], *, limit: int) -> list[OrderEntry]:
    """Return the newest ``limit`` orders of these identities."""
    return [_entry(o) for o in repo.recent(session, identity_ids, limit)]


def order_facts_before(session: Session, identity_ids: Sequence[int], *, before: tuple[datetime, int] | None,
                       limit: int) -> list[OrderFactEntry]:
    """Return the newest ``limit`` order facts of these identities older than ``before`` = (at, id)."""
    return [OrderFactEntry(id=r.id, at=r.occurred_at, identity_id=r.identity_id, order_id=r.order_id,
                           status=r.status, amount_fen=r.amount_fen, channel=r.channel, store=r.store)
            for r in repo.facts_before(session, identity_ids, before, limit)]


def order_summary(session: Session, identity_ids: Sequence[int]) -> OrderSummary:
    """Summarise the orders of these identities."""
    count, paid_count, paid_fen, refunded_fen, first_at, last_at = repo.summary(session, identity_ids)
    return OrderSummary(count=int(count), paid_count=int(paid_count), paid_net_fen=int(paid_fen) - int(refunded_fen),
                        refunded_fen=int(refunded_fen), first_order_at=ensure_utc(first_at) if first_at else None,
                        last_order_at=ensure_utc(last_at) if last_at else None)

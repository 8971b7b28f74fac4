"""Bulk SQL of the ingestion write path: events, orders, order lines and order facts.

Ingestion owns the write path of append-only facts so a batch of hundreds of facts costs a
handful of set-based statements; reads of these tables live in the events and orders domains.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from siyu.db.bulk import allocate_ids, chunks, fast_insert, fast_insert_tuples, insert_with_ids, select_in, write_rows
from siyu.domains.events import Event
from siyu.domains.orders import Order, OrderFact, OrderFactItem, OrderItem
from siyu.kit.time import UTC


def existing_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    """Return which of these event ids are already stored."""
    return {r[0] for r in select_in(session, "SELECT event_id FROM events WHERE event_id IN ({marks})", event_ids)}


def insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert events with one driver-level executemany (the hot path of ingestion)."""
    fast_insert(session, Event.__table__, rows)


EVENT_COLUMNS = ["event_id", "type", "occurred_at", "identity_id", "channel", "properties"]


def insert_event_rows(session: Session, rows: list[tuple[Any, ...]], received_at: Any) -> None:
    """Insert events given as tuples of EVENT_COLUMNS already in storage form (times as text, properties as JSON text),
    all received at ``received_at`` (storage form)."""
    if rows:
        write_rows(session, Event.__table__.name, EVENT_COLUMNS, rows, constants={"received_at": received_at})


def insert_events_returning(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert events and return their ids in order."""
    return insert_with_ids(session, Event.__table__, rows)


class StoredOrder(NamedTuple):
    """What the order writer needs of a stored order."""

    order_id: str
    id: int
    identity_id: int
    amount_fen: int
    refunded_fen: int
    status: str
    updated_at: datetime
    paid_at: datetime | None


def _utc(value: Any) -> datetime | None:
    """Return a stored time as UTCDateTime reads it (SQLite: naive UTC text; PostgreSQL: an aware datetime)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def orders_by_external_id(session: Session, order_ids: list[str]) -> dict[str, StoredOrder]:
    """Return order_id → the stored order (id, identity_id, amount_fen, refunded_fen, status, updated_at, paid_at)."""
    session.flush()  # a driver-level look-up: nothing pending may be missed
    rows = select_in(session, "SELECT order_id, id, identity_id, amount_fen, refunded_fen, status, updated_at, paid_at "
                     "FROM orders WHERE order_id IN ({marks})", order_ids)
    return {r[0]: StoredOrder(*r[:6], _utc(r[6]), _utc(r[7])) for r in rows}  # type: ignore[arg-type]


def existing_fact_keys(session: Session, order_pks: list[int]) -> set[tuple[int, str, str]]:
    """Return (order_pk, status, fact_key) of facts already stored for these orders."""
    keys: set[tuple[int, str, str]] = set()
    for part in chunks(order_pks):
        rows = session.execute(select(OrderFact.order_pk, OrderFact.status, OrderFact.fact_key)
                               .where(OrderFact.order_pk.in_(part)))
        keys.update((a, b, c) for a, b, c in rows)
    return keys


ORDER_COLUMNS = ("order_id", "identity_id", "channel", "store", "currency", "amount_fen", "refunded_fen", "status",
                 "placed_at", "paid_at", "updated_at", "properties")
FACT_COLUMNS = ("order_pk", "status", "fact_key", "amount_fen", "occurred_at", "received_at", "properties")


def _insert_tuples_with_ids(session: Session, table: Any, names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[int]:
    ids = allocate_ids(session, table, len(rows))
    fast_insert_tuples(session, table, ("id", *names), [(pk, *row) for pk, row in zip(ids, rows, strict=True)])
    return ids


def insert_orders(session: Session, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert order headers (tuples of ORDER_COLUMNS) and return their ids in order."""
    return _insert_tuples_with_ids(session, Order.__table__, ORDER_COLUMNS, rows)


def orders_with_lines(session: Session, order_pks: list[int]) -> set[int]:
    """Return which of these orders already have lines."""
    found: set[int] = set()
    for part in chunks(order_pks):
        found.update(session.scalars(select(OrderItem.order_pk).where(OrderItem.order_pk.in_(part)).distinct()))
    return found


def insert_order_items(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert order lines."""
    fast_insert(session, OrderItem.__table__, rows)


def insert_order_facts(session: Session, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert order facts (tuples of FACT_COLUMNS) and return their ids in order."""
    return _insert_tuples_with_ids(session, OrderFact.__table__, FACT_COLUMNS, rows)


def insert_order_fact_items(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert the lines later facts named."""
    fast_insert(session, OrderFactItem.__table__, rows)


def update_order_summaries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write each order's recomputed status, refunded total, paid time and last update."""
    if not rows:
        return
    table = Order.__table__
    stmt = (update(table).where(table.c.id == bindparam("pk"))
            .values(status=bindparam("new_status"), refunded_fen=bindparam("new_refunded"),
                    paid_at=bindparam("new_paid_at"), updated_at=bindparam("new_updated_at")))
    session.connection().execute(stmt, rows)

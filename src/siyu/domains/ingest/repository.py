"""Bulk SQL of the ingestion write path: events, orders, order lines and order facts.

Ingestion owns the write path of append-only facts so a batch of hundreds of facts costs a
handful of set-based statements; reads of these tables live in the events and orders domains.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from siyu.db.bulk import chunks, select_in
from siyu.kit.time import UTC
from siyu.domains.events import Event
from siyu.domains.orders.models import Order, OrderFact, OrderItem


def existing_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    """Return which of these event ids are already stored."""
    return {r[0] for r in select_in(session, "SELECT event_id FROM events WHERE event_id IN ({marks})", event_ids)}


_EVENT_COLS = ("event_id", "type", "occurred_at", "received_at", "identity_id", "channel", "properties")


def _sqlite_time(value: datetime) -> str:
    # the exact text SQLAlchemy's SQLite DATETIME writes, so ORM reads see the same values
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert events with one driver-level executemany (the hot path of ingestion).

    Values are converted here once instead of through per-value type processors; the stored
    representation is the one the ORM types read back (UTC text on SQLite, timestamptz and jsonb on
    PostgreSQL).
    """
    if not rows:
        return
    sqlite = session.get_bind().dialect.name == "sqlite"
    marks = ", ".join("?" if sqlite else "%s" for _ in _EVENT_COLS)
    sql = f"INSERT INTO events ({', '.join(_EVENT_COLS)}) VALUES ({marks})"
    stamp = _sqlite_time if sqlite else (lambda v: v)
    params = [(r["event_id"], r["type"], stamp(r["occurred_at"]), stamp(r["received_at"]), r["identity_id"],
               r["channel"], orjson.dumps(r["properties"], option=orjson.OPT_NON_STR_KEYS).decode()) for r in rows]
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()


def insert_events_returning(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert events and return their ids in order."""
    ids: list[int] = []
    if not rows:
        return ids
    stmt = Event.__table__.insert().returning(Event.__table__.c.id, sort_by_parameter_order=True)
    for part in chunks(rows, 1000):
        ids.extend(session.execute(stmt, list(part)).scalars().all())
    return ids


def orders_by_external_id(session: Session, order_ids: list[str]) -> dict[str, Any]:
    """Return order_id → (id, identity_id, amount_fen, refunded_fen, status, updated_at, paid_at)."""
    out: dict[str, Any] = {}
    cols = (Order.order_id, Order.id, Order.identity_id, Order.amount_fen, Order.refunded_fen, Order.status,
            Order.updated_at, Order.paid_at)
    for part in chunks(order_ids):
        for row in session.execute(select(*cols).where(Order.order_id.in_(part))):
            out[row[0]] = row
    return out


def existing_fact_keys(session: Session, order_pks: list[int]) -> set[tuple[int, str, str]]:
    """Return (order_pk, status, fact_key) of facts already stored for these orders."""
    keys: set[tuple[int, str, str]] = set()
    for part in chunks(order_pks):
        rows = session.execute(select(OrderFact.order_pk, OrderFact.status, OrderFact.fact_key)
                               .where(OrderFact.order_pk.in_(part)))
        keys.update((a, b, c) for a, b, c in rows)
    return keys


def insert_orders(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert order headers and return their ids in order."""
    ids: list[int] = []
    stmt = Order.__table__.insert().returning(Order.__table__.c.id, sort_by_parameter_order=True)
    for part in chunks(rows, 1000):
        ids.extend(session.execute(stmt, list(part)).scalars().all())
    return ids


def insert_order_items(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert order lines."""
    for part in chunks(rows, 1000):
        session.execute(OrderItem.__table__.insert(), list(part))


def insert_order_facts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert order facts."""
    for part in chunks(rows, 1000):
        session.execute(OrderFact.__table__.insert(), list(part))


def update_order_summaries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write each order's recomputed status, refunded total, paid time and last update."""
    if not rows:
        return
    table = Order.__table__
    stmt = (update(table).where(table.c.id == bindparam("pk"))
            .values(status=bindparam("new_status"), refunded_fen=bindparam("new_refunded"),
                    paid_at=bindparam("new_paid_at"), updated_at=bindparam("new_updated_at")))
    session.connection().execute(stmt, rows)


# --- bulk loads (siyu.domains.ingest.bulk): driver-level inserts with ids reserved up front ---------------

_ORDER_COLS = ("id", "order_id", "identity_id", "channel", "store", "currency", "amount_fen", "refunded_fen",
               "status", "placed_at", "paid_at", "updated_at", "properties")
_ITEM_COLS = ("order_pk", "sku", "name", "category", "quantity", "unit_price_fen", "amount_fen")
_FACT_COLS = ("order_pk", "status", "fact_key", "amount_fen", "occurred_at", "received_at", "properties")


def _executemany(session: Session, table: str, columns: tuple[str, ...], params: list[tuple[Any, ...]]) -> None:
    if not params:
        return
    mark = "?" if session.get_bind().dialect.name == "sqlite" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()


def reserve_order_ids(session: Session, count: int) -> list[int]:
    """Return ``count`` fresh order ids, in the order the database would have assigned them.

    SQLite hands out max(id)+1 and the caller holds the write lock; PostgreSQL draws from the
    table's sequence, so concurrent writers never collide.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "sqlite":
        top = session.execute(select(func.coalesce(func.max(Order.id), 0))).scalar_one()
        return list(range(top + 1, top + 1 + count))
    rows = session.execute(text("SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, :n)"),
                           {"n": count})
    return [r[0] for r in rows]


def _stamp(session: Session) -> Any:
    return _sqlite_time if session.get_bind().dialect.name == "sqlite" else (lambda v: v)


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def insert_orders_with_ids(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert order headers that carry their (reserved) ``id`` with one driver-level executemany."""
    stamp = _stamp(session)
    _executemany(session, "orders", _ORDER_COLS, [
        (r["id"], r["order_id"], r["identity_id"], r["channel"], r["store"], r["currency"], r["amount_fen"],
         r["refunded_fen"], r["status"], stamp(r["placed_at"]), None if r["paid_at"] is None else stamp(r["paid_at"]),
         stamp(r["updated_at"]), _json(r["properties"])) for r in rows])


def insert_order_items_fast(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert order lines with one driver-level executemany."""
    _executemany(session, "order_items", _ITEM_COLS, [tuple(r[c] for c in _ITEM_COLS) for r in rows])


def insert_order_facts_fast(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert order facts with one driver-level executemany."""
    stamp = _stamp(session)
    _executemany(session, "order_facts", _FACT_COLS, [
        (r["order_pk"], r["status"], r["fact_key"], r["amount_fen"], stamp(r["occurred_at"]), stamp(r["received_at"]),
         _json(r["properties"])) for r in rows])


def fact_counts(session: Session) -> dict[str, int]:
    """Return how many customers (live and merged), identities, review items, orders and events are stored."""
    queries = {
        "customers": "SELECT count(*) FROM customers WHERE merged_into_id IS NULL",
        "merged_customers": "SELECT count(*) FROM customers WHERE merged_into_id IS NOT NULL",
        "identities": "SELECT count(*) FROM identities",
        "merges": "SELECT count(*) FROM merges",
        "review_items": "SELECT count(*) FROM identity_issues WHERE status = 'open'",
        "orders": "SELECT count(*) FROM orders",
        "order_facts": "SELECT count(*) FROM order_facts",
        "events": "SELECT count(*) FROM events",
        "staff": "SELECT count(*) FROM staff",
        "channel_codes": "SELECT count(*) FROM channel_codes",
        "ownerships": "SELECT count(*) FROM ownerships",
        "groups": "SELECT count(*) FROM customer_groups",
    }
    return {name: session.execute(text(sql)).scalar_one() for name, sql in queries.items()}

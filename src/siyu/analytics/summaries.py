"""SQL of the daily summaries: what changed since the last refresh, the facts to recompute, the writes.

Reads the domains' tables (analytics sits above them) and writes only the ``health_*`` tables of
:mod:`siyu.analytics.models`. Event and order times are bucketed by hour in SQL and the hours mapped
to days of the brand's calendar in Python (:func:`hour_day`), so SQLite and PostgreSQL cut days the
same way (exact for zones with whole-hour offsets, such as Asia/Shanghai); follow relations and
group stays are read whole, since a customer's connections are intervals (see
:mod:`siyu.analytics.contributions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, func, insert, literal, literal_column, select
from sqlalchemy.orm import Session

from siyu.analytics.models import HealthCustomer, HealthDaily, HealthMove, HealthSpan, HealthState
from siyu.db.bulk import chunks, dialect_insert, fast_insert_tuples, is_postgres, write_rows
from siyu.domains.access import AuditEntry
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.groups import GroupMembership
from siyu.domains.identity import Identity, Merge
from siyu.domains.orders import Order, OrderFact
from siyu.domains.staff import Ownership, Staff
from siyu.kit.time import ensure_utc, local_day

# the append-only tables whose new rows say what changed, by watermark name
WATERMARKED = {"events": Event.id, "order_facts": OrderFact.id, "ownerships": Ownership.id,
               "group_memberships": GroupMembership.id, "customers": Customer.id, "merges": Merge.id,
               "audit_log": AuditEntry.id}
IDENTITY_ACTIONS = ("customer.merge", "customer.unmerge", "customer.split")
DAY_METRICS = ("orders", "gmv")  # sums over orders, recomputed per changed day; the rest is per customer


def hour(session: Session, column: Any) -> Any:
    """Return ``column`` truncated to the hour (text on SQLite, a timestamp on PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(literal_column("'hour'"), column)
    return func.strftime("%Y-%m-%d %H:00:00", column)


@lru_cache(maxsize=1 << 16)
def hour_day(bucket: Any, tz: ZoneInfo) -> date:
    """Return the brand day of an hour bucket from :func:`hour` (remembered: a year has 8,784 hours)."""
    at = bucket if isinstance(bucket, datetime) else datetime.fromisoformat(str(bucket))
    return local_day(ensure_utc(at), tz)


# --- state ---------------------------------------------------------------------------------------

def state(session: Session) -> dict[str, int]:
    """Return every named number of ``health_state``."""
    return {name: int(value) for name, value in session.execute(select(HealthState.name, HealthState.value))}


def set_state(session: Session, values: dict[str, int]) -> None:
    """Write named numbers (replacing those present)."""
    if not values:
        return
    session.execute(delete(HealthState).where(HealthState.name.in_(list(values))))
    session.execute(insert(HealthState), [{"name": k, "value": v} for k, v in sorted(values.items())])


def add_state(session: Session, delta: dict[str, int]) -> None:
    """Add increments to named numbers (creating them)."""
    stmt = dialect_insert(session, HealthState.__table__)
    rows = [{"name": k, "value": v} for k, v in sorted(delta.items()) if v]
    if rows:
        session.execute(stmt.on_conflict_do_update(index_elements=["name"],
                                                   set_={"value": HealthState.value + stmt.excluded.value}), rows)


def tops(session: Session) -> dict[str, int]:
    """Return the highest id of every watermarked table (0 when empty)."""
    return {name: int(session.scalar(select(func.max(col))) or 0) for name, col in WATERMARKED.items()}


def departed_staff(session: Session) -> list[int]:
    """Return the ids of departed staff members."""
    return list(session.scalars(select(Staff.id).where(Staff.status == "departed")))


def clear(session: Session) -> None:
    """Empty every summary table (before a full rebuild)."""
    for table in (HealthDaily, HealthSpan, HealthCustomer, HealthMove, HealthState):
        session.execute(delete(table))


# --- what changed --------------------------------------------------------------------------------

def _range(col: Any, lo: int, hi: int) -> list[ColumnElement[bool]]:
    return [col > lo, col <= hi]


def changed(session: Session, lo: dict[str, int], hi: dict[str, int], tz: ZoneInfo,
            departed: Sequence[int]) -> tuple[set[date], set[int]]:
    """Return the brand days and the customers touched by rows added since the ``lo`` watermarks.

    Follow relations and group stays end by update, never by a new row: the event that ended them
    (a contact or group event) names the customer, and departed staff are looked up separately.
    """
    customers: set[int] = set()
    ev, of, ow, gm = (_range(WATERMARKED[n], lo.get(n, 0), hi[n])
                      for n in ("events", "order_facts", "ownerships", "group_memberships"))
    buckets = select(hour(session, Order.placed_at)).join(OrderFact, OrderFact.order_pk == Order.id).where(*of)
    days = {hour_day(b, tz) for b in session.scalars(buckets.distinct())}
    for query in (
        select(Identity.customer_id).join(Event, Event.identity_id == Identity.id).where(*ev),
        select(Identity.customer_id).join(Order, Order.identity_id == Identity.id)
        .join(OrderFact, OrderFact.order_pk == Order.id).where(*of),
        select(Identity.customer_id).join(Ownership, Ownership.identity_id == Identity.id).where(*ow),
        select(Identity.customer_id).join(GroupMembership, GroupMembership.identity_id == Identity.id).where(*gm),
        select(Customer.id).where(*_range(Customer.id, lo.get("customers", 0), hi["customers"])),
        select(Merge.survivor_id).where(*_range(Merge.id, lo.get("merges", 0), hi["merges"])),
        select(Merge.merged_id).where(*_range(Merge.id, lo.get("merges", 0), hi["merges"])),
    ):
        customers.update(session.scalars(query.distinct()))
    customers.update(_identity_actions(session, lo.get("audit_log", 0), hi["audit_log"]))
    if departed:
        customers.update(session.scalars(
            select(Identity.customer_id).distinct().join(Ownership, Ownership.identity_id == Identity.id)
            .where(Ownership.staff_id.in_(list(departed)))))
    return days, customers


def _identity_actions(session: Session, lo: int, hi: int) -> set[int]:
    """Return customers named by merges, unmerges and splits an operator made since ``lo``."""
    out: set[int] = set()
    merge_ids: list[int] = []
    rows = session.execute(select(AuditEntry.target_id, AuditEntry.detail)
                           .where(*_range(AuditEntry.id, lo, hi), AuditEntry.action.in_(IDENTITY_ACTIONS)))
    for target, detail in rows:
        if target and str(target).isdigit():
            out.add(int(target))
        for key in ("merged_id", "new_customer_id"):
            if isinstance(detail.get(key), int):
                out.add(detail[key])
        if isinstance(detail.get("merge_id"), int):
            merge_ids.append(detail["merge_id"])
    for part in chunks(merge_ids):
        for survivor, merged in session.execute(select(Merge.survivor_id, Merge.merged_id).where(Merge.id.in_(part))):
            out.update((survivor, merged))
    return out


def identity_actions_between(session: Session, lo: int, hi: int) -> bool:
    """Return whether audit entries ``lo`` < id <= ``hi`` hold an operator's merge, unmerge or split."""
    return session.scalar(select(AuditEntry.id).where(*_range(AuditEntry.id, lo, hi),
                                                      AuditEntry.action.in_(IDENTITY_ACTIONS)).limit(1)) is not None


def has_more_customers_than(session: Session, count: int) -> bool:
    """Return whether the store holds more than ``count`` customer rows (reads at most count + 1 ids)."""
    return session.scalar(select(Customer.id).order_by(Customer.id).offset(count).limit(1)) is not None


def fact_days(session: Session, tz: ZoneInfo) -> tuple[date, date] | None:
    """Return the first and last brand day an order was placed on (None without orders): the day metrics' range."""
    low, high = session.execute(select(func.min(Order.placed_at), func.max(Order.placed_at))).one()
    if low is None:
        return None
    return local_day(ensure_utc(low), tz), local_day(ensure_utc(high), tz)


# --- facts of customers ----------------------------------------------------------------------------

OWNERSHIP_COLUMNS = (Ownership.identity_id, Ownership.staff_id, Ownership.channel_code_id, Ownership.source,
                     Ownership.added_at, Ownership.removed_at, Ownership.removed_by)
STAY_COLUMNS = (GroupMembership.identity_id, GroupMembership.group_id, GroupMembership.joined_at,
                GroupMembership.left_at)


def customer_facts(session: Session, customer_ids: Sequence[int]) -> dict[str, list[Any]]:
    """Return the rows a chunk of customers' contributions are built from (see refresh).

    ``ownerships`` and ``stays`` hold every follow relation and group stay of the customers'
    identities, with aware UTC times.
    """
    ids = list(customer_ids)
    people = session.execute(select(Customer.id, Customer.merged_into_id, Customer.first_seen_at,
                                    Customer.source_platform).where(Customer.id.in_(ids))).all()
    idents = session.execute(select(Identity.id, Identity.customer_id).where(Identity.customer_id.in_(ids))).all()
    events: list[Any] = []
    orders: list[Any] = []
    ownerships: list[Any] = []
    stays: list[Any] = []
    for part in chunks([i for i, _ in idents]):
        h = hour(session, Event.occurred_at)
        events += session.execute(select(Event.identity_id, h).where(Event.identity_id.in_(part))
                                  .group_by(Event.identity_id, h)).all()
        h = hour(session, Order.placed_at)
        orders += session.execute(select(Order.identity_id, h, func.count())
                                  .where(Order.identity_id.in_(part), Order.paid_at.is_not(None))
                                  .group_by(Order.identity_id, h)).all()
        ownerships += session.execute(select(*OWNERSHIP_COLUMNS).where(Ownership.identity_id.in_(part))).all()
        stays += session.execute(select(*STAY_COLUMNS).where(GroupMembership.identity_id.in_(part))).all()
    return {"customers": people, "identities": idents, "events": events, "orders": orders,
            "ownerships": ownerships, "stays": stays}


def stored_customers(session: Session, customer_ids: Sequence[int]) -> list[HealthCustomer]:
    """Return the stored contributions of these customers."""
    return list(session.scalars(select(HealthCustomer).where(HealthCustomer.customer_id.in_(list(customer_ids)))))


CUSTOMER_COLUMNS = ("customer_id", "live", "first_day", "platform", "active", "paid", "items", "moves", "now_in")
MOVE_COLUMNS = ("kind", "day", "customer_id")


def replace_customers(session: Session, customer_ids: Sequence[int], rows: list[tuple[Any, ...]]) -> None:
    """Replace the stored contributions of ``customer_ids`` with ``rows`` (tuples of CUSTOMER_COLUMNS)."""
    session.execute(delete(HealthCustomer).where(HealthCustomer.customer_id.in_(list(customer_ids))))
    insert_customers(session, rows)


def replace_moves(session: Session, customer_ids: Sequence[int], rows: list[tuple[Any, ...]]) -> None:
    """Replace the private-domain moves of ``customer_ids`` with ``rows`` (tuples of MOVE_COLUMNS)."""
    for part in chunks(list(customer_ids)):
        session.execute(delete(HealthMove).where(HealthMove.customer_id.in_(part)))
    insert_moves(session, rows)


STORED_COLUMNS = {"health_customers": CUSTOMER_COLUMNS, "health_moves": MOVE_COLUMNS,
                  "health_daily": ("metric", "day", "dim", "value"),
                  "health_spans": ("metric", "dim", "end_day", "start_day", "n")}


def insert_stored(session: Session, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows in storage form (days as ISO text) into an emptied summary table (a full rebuild)."""
    write_rows(session, table, list(STORED_COLUMNS[table]), rows)


def insert_moves(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert moves of customers that have none stored."""
    fast_insert_tuples(session, HealthMove.__table__, MOVE_COLUMNS, rows)


def insert_customers(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert contributions of customers that have none stored."""
    fast_insert_tuples(session, HealthCustomer.__table__, CUSTOMER_COLUMNS, rows)


# --- day metrics ---------------------------------------------------------------------------------

def day_rows(session: Session, start: datetime, end: datetime) -> list[tuple[str, Any, str, int]]:
    """Return (metric, hour bucket, dimension, value) of the day metrics with times in [start, end)."""
    out: list[tuple[str, Any, str, int]] = []

    def grouped(metric: str, col: Any, dim: Any, value: Any, *where: Any) -> None:
        h = hour(session, col)
        bounds = [col >= start, col < end]
        keys = [h] if dim is None else [h, dim]
        query = select(h, dim if dim is not None else literal(""), value).where(*bounds, *where).group_by(*keys)
        out.extend((metric, b, "" if d is None else str(d), int(v or 0)) for b, d, v in session.execute(query))

    one = func.count()
    paid = (Order.paid_at.is_not(None),)
    grouped("orders", Order.placed_at, None, one, *paid)
    grouped("gmv", Order.placed_at, None, func.sum(Order.amount_fen - Order.refunded_fen), *paid)
    return out


def replace_days(session: Session, first: date, last: date, metrics: Iterable[str],
                 rows: list[dict[str, Any]]) -> None:
    """Replace the values of ``metrics`` on days [first, last] with ``rows``."""
    session.execute(delete(HealthDaily).where(HealthDaily.metric.in_(list(metrics)), HealthDaily.day >= first,
                                              HealthDaily.day <= last))
    for part in chunks(rows, 5000):
        session.execute(insert(HealthDaily), list(part))


def add_daily(session: Session, delta: dict[tuple[str, date, str], int]) -> None:
    """Add values to daily rows (creating them), in key order."""
    _add(session, HealthDaily.__table__, ("metric", "day", "dim"), "value", delta)


def add_spans(session: Session, delta: dict[tuple[str, str, date, date], int]) -> None:
    """Add counts to span rows (creating them), in key order."""
    _add(session, HealthSpan.__table__, ("metric", "dim", "end_day", "start_day"), "n", delta)


def _add(session: Session, table: Any, keys: tuple[str, ...], value: str, delta: dict[Any, int]) -> None:
    """Upsert ``key → value`` increments with one driver-level executemany (same SQL on both stores).

    SQLAlchemy's executemany of an ON CONFLICT statement ran row by row and cost ten times the
    statement itself. Dates are bound as ISO text on SQLite, as the ORM writes them.
    """
    sqlite = not is_postgres(session)
    rows = [(*(k.isoformat() if sqlite and isinstance(k, date) else k for k in key), n)
            for key, n in sorted(delta.items()) if n]
    if not rows:
        return
    mark = "?" if sqlite else "%s"
    marks = ", ".join([mark] * (len(keys) + 1))
    sql = (f'INSERT INTO {table.name} ({", ".join(keys)}, {value}) VALUES ({marks}) '
           f'ON CONFLICT ({", ".join(keys)}) DO UPDATE SET {value} = {table.name}.{value} + excluded.{value}')
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        for part in chunks(rows, 5000):
            cursor.executemany(sql, part)
    finally:
        cursor.close()

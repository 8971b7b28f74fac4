"""SQL for journeys: definitions, enrolments and their claims, step runs, feeds of facts, watermarks.

Facts are read through the tables other domains export for joins (events, identities, orders).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BigInteger, and_, any_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.db.bulk import allocate_ids, array_params, insert_arrays, unnest_sql
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.identity import Identity
from siyu.domains.journeys.models import Enrolment, Journey, JourneyVersion, JourneyWatermark, RecordedCoupon, StepRun
from siyu.domains.orders import Order, OrderFact


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session: Session) -> Any:
    return postgresql.insert if _postgres(session) else sqlite.insert


# -- journeys and versions ---------------------------------------------------------------------------


def add(session: Session, row: Any) -> None:
    """Stage a row and flush it (it gets its id)."""
    session.add(row)
    session.flush()


def get(session: Session, journey_id: int) -> Journey | None:
    """Return one journey."""
    return session.get(Journey, journey_id)


def by_name(session: Session, name: str) -> Journey | None:
    """Return the journey of this name."""
    return session.scalar(select(Journey).where(Journey.name == name))


def journeys(session: Session, status: str | None = None) -> list[Journey]:
    """Return journeys by id, optionally of one status."""
    query = select(Journey).order_by(Journey.id)
    return list(session.scalars(query.where(Journey.status == status) if status else query))


def version(session: Session, journey_id: int, number: int) -> JourneyVersion | None:
    """Return one version of a journey."""
    return session.scalar(select(JourneyVersion).where(JourneyVersion.journey_id == journey_id,
                                                       JourneyVersion.version == number))


def versions(session: Session, journey_id: int) -> list[JourneyVersion]:
    """Return every version of a journey, oldest first."""
    return list(session.scalars(select(JourneyVersion).where(JourneyVersion.journey_id == journey_id)
                                .order_by(JourneyVersion.version)))


# -- enrolments --------------------------------------------------------------------------------------


def insert_enrolments(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert enrolments (all with ids or none); one already active for the same journey and customer wins
    (no error). Return how many were inserted (-1 if the driver does not say)."""
    if not rows:
        return 0
    if not _postgres(session):
        return session.execute(_insert(session)(Enrolment.__table__).on_conflict_do_nothing(), list(rows)).rowcount
    return insert_arrays(session, Enrolment.__table__, rows, conflict="")


def analyse_enrolments(session: Session) -> None:
    """Refresh the planner's statistics of enrolments (PostgreSQL; SQLite plans without them).

    Called after a large enrolment: before autovacuum's analyse, a freshly bulk-inserted table has
    none, and the claim's ``ORDER BY next_run_at LIMIT`` was planned as a read and sort of every
    active enrolment of the journey (135-260 ms a claim at 100,000 instead of 1 ms down the index).
    """
    if _postgres(session):
        session.execute(text("ANALYZE journey_enrolments"))


def new_enrolment_ids(session: Session, n: int) -> list[int]:
    """Draw ``n`` enrolment ids before their rows are written (the id sequence; SQLite: its writer's next ids)."""
    return allocate_ids(session, Enrolment.__table__, n)


def latest_enrolments(session: Session, journey_id: int, customer_ids: Sequence[int]) -> dict[int, tuple[str, datetime]]:
    """Return {customer: (status, entered_at)} of each customer's latest enrolment in a journey (re-entry policy)."""
    found: dict[int, tuple[str, datetime]] = {}
    query = select(Enrolment.customer_id, Enrolment.status, Enrolment.entered_at).where(
        Enrolment.journey_id == journey_id).order_by(Enrolment.id)
    for part in _chunks(customer_ids, 5000):
        rows = session.execute(query.where(_among(session, Enrolment.customer_id, part)))
        found.update({c: (status, at) for c, status, at in rows})
    return found


def _among(session: Session, column: Any, ids: list[int]) -> Any:
    """``column IN (ids)``; on PostgreSQL ``= ANY(array)``: one parameter, not a statement of thousands to build."""
    if _postgres(session):
        return column == any_(bindparam("among", ids, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(ids)


def enrolment(session: Session, enrolment_id: int) -> Enrolment | None:
    """Return one enrolment."""
    return session.get(Enrolment, enrolment_id)


@dataclass(slots=True)
class Running:
    """An enrolment's execution state for one batch: read by :func:`claim_due`, written back by :func:`save_states`.

    Plain data rather than the ORM entity: a batch changes a thousand of them several times, and the
    ORM's attribute events and flush cost as much as the steps themselves.
    """

    id: int
    journey_id: int
    version: int
    customer_id: int
    status: str
    step: str | None
    step_entered_at: datetime
    visit: int
    next_run_at: datetime | None
    lease_until: datetime | None
    attempt: int
    waiting_for: str | None
    reason: str | None
    entered_at: datetime
    finished_at: datetime | None


_RUNNING = [Enrolment.__table__.c[f.name] for f in fields(Running)]


def claim_due(session: Session, journey_ids: Sequence[int], now: datetime, limit: int,
              lease_until: datetime) -> list[Running]:
    """Claim due active enrolments of these journeys for this transaction.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent schedulers take disjoint batches and a row
    stays locked until this transaction ends. SQLite has one writer at a time: a conditional UPDATE
    stamps a lease on rows whose lease is free, and returns them.
    """
    if not journey_ids:
        return []
    due = and_(Enrolment.status == "active", Enrolment.next_run_at <= now, Enrolment.journey_id.in_(journey_ids))
    if _postgres(session):
        query = select(*_RUNNING).where(due).order_by(Enrolment.next_run_at).limit(limit)
        return [Running(*row) for row in session.execute(query.with_for_update(skip_locked=True))]
    free = or_(Enrolment.lease_until.is_(None), Enrolment.lease_until <= now)
    ids = select(Enrolment.id).where(due, free).order_by(Enrolment.next_run_at).limit(limit).scalar_subquery()
    claimed = list(session.scalars(update(Enrolment).where(Enrolment.id.in_(ids), free)
                                   .values(lease_until=lease_until).returning(Enrolment.id)))
    if not claimed:
        return []
    query = select(*_RUNNING).where(Enrolment.id.in_(claimed)).order_by(Enrolment.next_run_at)
    return [Running(*row) for row in session.execute(query)]


def save_states(session: Session, states: Sequence[dict[str, Any]]) -> None:
    """Write enrolments' execution state (``STATE`` columns by id): one ``UPDATE … FROM unnest(…)`` on
    PostgreSQL, an executemany on SQLite."""
    if not states:
        return
    table = Enrolment.__table__
    columns = [c for c in states[0] if c != "id"]
    if not _postgres(session):
        stmt = table.update().where(table.c.id == bindparam("_id")).values(
            {c: bindparam(f"_{c}") for c in columns})
        session.execute(stmt, [{f"_{k}": v for k, v in row.items()} for row in states])
        return
    session.connection().exec_driver_sql(_update_from_arrays(tuple(columns)),
                                         array_params(table, ["id", *columns], states))


@lru_cache(maxsize=8)
def _update_from_arrays(columns: tuple[str, ...]) -> str:
    table = Enrolment.__table__
    sets = ", ".join(f"{c} = v.{c}" for c in columns)
    return f"UPDATE {table.name} AS t SET {sets} FROM {unnest_sql(table, ('id', *columns))} WHERE t.id = v.id"


def wake(session: Session, pairs: Iterable[tuple[int, str]], awaited: set[str], now: datetime) -> int:
    """Make enrolments waiting for an event type due now, for these (customer, type) pairs.

    Only ``awaited`` types (those a wait step of a running journey names) are looked at, one UPDATE
    per type and chunk of customers.
    """
    by_type: dict[str, set[int]] = {}
    for customer_id, type_ in pairs:
        if type_ in awaited:
            by_type.setdefault(type_, set()).add(customer_id)
    woken = 0
    for type_, customers in by_type.items():
        for part in _chunks(sorted(customers)):
            result = session.execute(update(Enrolment).where(
                Enrolment.customer_id.in_(part), Enrolment.waiting_for == type_, Enrolment.status == "active")
                .values(next_run_at=now))
            woken += result.rowcount or 0
    return woken


def active_of(session: Session, journey_ids: Sequence[int], customer_ids: Sequence[int]) -> list[Enrolment]:
    """Return the active enrolments of these customers in these journeys."""
    if not journey_ids or not customer_ids:
        return []
    return list(session.scalars(select(Enrolment).where(
        Enrolment.status == "active", Enrolment.journey_id.in_(journey_ids),
        Enrolment.customer_id.in_(list(customer_ids)))))


def active_count(session: Session, journey_id: int, version: int | None = None) -> int:
    """Return how many enrolments of a journey (version) are active."""
    query = select(func.count()).where(Enrolment.journey_id == journey_id, Enrolment.status == "active")
    if version is not None:
        query = query.where(Enrolment.version == version)
    return session.scalar(query.select_from(Enrolment)) or 0


def active_steps(session: Session, journey_id: int, version: int) -> dict[str, int]:
    """Return {step: active enrolments at it} of one version."""
    return {s: n for s, n in session.execute(
        select(Enrolment.step, func.count()).where(Enrolment.journey_id == journey_id, Enrolment.version == version,
                                                   Enrolment.status == "active").group_by(Enrolment.step))}


def migrate(session: Session, journey_id: int, old: int, new: int) -> int:
    """Move a version's active enrolments to another version (their step ids are checked by the caller)."""
    result = session.execute(update(Enrolment).where(Enrolment.journey_id == journey_id, Enrolment.version == old,
                                                     Enrolment.status == "active").values(version=new))
    return result.rowcount or 0


def customer_enrolments(session: Session, customer_id: int, journey_id: int | None) -> list[Enrolment]:
    """Return a customer's enrolments (in one journey), oldest first."""
    query = select(Enrolment).where(Enrolment.customer_id == customer_id).order_by(Enrolment.id)
    return list(session.scalars(query.where(Enrolment.journey_id == journey_id) if journey_id else query))


def enrolment_rows(session: Session, journey_id: int) -> list[tuple[int, str, int, datetime]]:
    """Return (id, arm, customer_id, entered_at) of every enrolment of a journey."""
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(Enrolment.id, Enrolment.arm, Enrolment.customer_id, Enrolment.entered_at)
        .where(Enrolment.journey_id == journey_id))]


def status_counts(session: Session, journey_id: int) -> list[tuple[int, str | None, str, int]]:
    """Return (version, step, status, count) of a journey's enrolments."""
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(Enrolment.version, Enrolment.step, Enrolment.status, func.count()).where(
            Enrolment.journey_id == journey_id).group_by(Enrolment.version, Enrolment.step, Enrolment.status))]


# -- step runs ---------------------------------------------------------------------------------------


def add_runs(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert step runs (one ``INSERT … SELECT FROM unnest(…)`` on PostgreSQL)."""
    if not rows:
        return
    if not _postgres(session):
        session.execute(StepRun.__table__.insert(), list(rows))
        return
    insert_arrays(session, StepRun.__table__, rows)


def run_counts(session: Session, journey_id: int) -> list[tuple[int, str, str, int]]:
    """Return (version, step, outcome, count) of a journey's step runs."""
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(StepRun.version, StepRun.step, StepRun.outcome, func.count()).where(StepRun.journey_id == journey_id)
        .group_by(StepRun.version, StepRun.step, StepRun.outcome))]


def runs_of(session: Session, enrolment_ids: Sequence[int]) -> list[StepRun]:
    """Return the step runs of these enrolments in order."""
    if not enrolment_ids:
        return []
    return list(session.scalars(select(StepRun).where(StepRun.enrolment_id.in_(list(enrolment_ids)))
                                .order_by(StepRun.enrolment_id, StepRun.visit)))


# -- facts -------------------------------------------------------------------------------------------


def top_ids(session: Session) -> dict[str, int]:
    """Return the highest id of each fact table a feeder reads."""
    return {"events": session.scalar(select(func.max(Event.id))) or 0,
            "order_facts": session.scalar(select(func.max(OrderFact.id))) or 0}


def events_between(session: Session, low: int, high: int, limit: int) -> list[tuple[int, int, str, dict[str, Any],
                                                                                   datetime, datetime]]:
    """Return (id, customer_id, type, properties, occurred_at, received_at) of events in (low, high]."""
    query = (select(Event.id, Identity.customer_id, Event.type, Event.properties, Event.occurred_at,
                    Event.received_at).join(Identity, Identity.id == Event.identity_id)
             .where(Event.id > low, Event.id <= high).order_by(Event.id).limit(limit))
    return [tuple(r) for r in session.execute(query)]  # type: ignore[misc]


def order_facts_between(session: Session, low: int, high: int, limit: int) -> list[tuple[int, int, str, dict[str, Any],
                                                                                        datetime, datetime]]:
    """Return order facts in (low, high] as events ``order_<status>`` (properties: the order's id and amount)."""
    query = (select(OrderFact.id, Identity.customer_id, OrderFact.status, Order.order_id, OrderFact.amount_fen,
                    OrderFact.occurred_at, OrderFact.received_at)
             .join(Order, Order.id == OrderFact.order_pk).join(Identity, Identity.id == Order.identity_id)
             .where(OrderFact.id > low, OrderFact.id <= high).order_by(OrderFact.id).limit(limit))
    return [(i, c, f"order_{status}", {"order_id": oid, "amount_fen": amount}, at, received)
            for i, c, status, oid, amount, at, received in session.execute(query)]


def events_of(session: Session, customer_ids: Sequence[int], types: Sequence[str], since: datetime,
              until: datetime | None) -> list[tuple[int, str, dict[str, Any], datetime]]:
    """Return (customer_id, type, properties, occurred_at) of these customers' events of these types in [since, until]."""
    if not customer_ids:
        return []
    plain = [t for t in types if not t.startswith("order_")]
    statuses = [t[len("order_"):] for t in types if t.startswith("order_")]
    rows: list[tuple[int, str, dict[str, Any], datetime]] = []
    for part in _chunks(customer_ids):
        query = (select(Identity.customer_id, Event.type, Event.properties, Event.occurred_at)
                 .join(Identity, Identity.id == Event.identity_id)
                 .where(Identity.customer_id.in_(part), Event.type.in_(list(types)), Event.occurred_at >= since))
        rows += [tuple(r) for r in session.execute(query.where(Event.occurred_at <= until) if until else query)]  # type: ignore[misc]
        if statuses:
            facts = (select(Identity.customer_id, OrderFact.status, Order.order_id, OrderFact.amount_fen,
                            OrderFact.occurred_at).join(Order, Order.id == OrderFact.order_pk)
                     .join(Identity, Identity.id == Order.identity_id)
                     .where(Identity.customer_id.in_(part), OrderFact.status.in_(statuses),
                            OrderFact.occurred_at >= since))
            facts = facts.where(OrderFact.occurred_at <= until) if until else facts
            rows += [(c, f"order_{s}", {"order_id": o, "amount_fen": a}, at) for c, s, o, a, at in session.execute(facts)]
    return rows


def live_customers(session: Session, customer_ids: Sequence[int]) -> set[int]:
    """Return which of these customer ids exist and are not merged into another."""
    found: set[int] = set()
    for part in _chunks(customer_ids):
        found |= set(session.scalars(select(Customer.id).where(Customer.id.in_(part), Customer.merged_into_id.is_(None))))
    return found


def customer_zone(session: Session, customer_id: int) -> ZoneInfo | None:
    """Return the customer's own time zone (custom attribute ``timezone``), if set and known."""
    attributes = session.scalar(select(Customer.attributes).where(Customer.id == customer_id)) or {}
    name = attributes.get("timezone") if isinstance(attributes, dict) else None
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def identities_of(session: Session, customer_ids: Sequence[int]) -> dict[int, int]:
    """Return {identity_id: customer_id} of these customers' identities."""
    found: dict[int, int] = {}
    for part in _chunks(customer_ids, 5000):
        found.update(dict(session.execute(select(Identity.id, Identity.customer_id)
                                          .where(_among(session, Identity.customer_id, part))).all()))
    return found


def identity_ids(session: Session, customer_id: int) -> list[int]:
    """Return the identities of a customer."""
    return list(session.scalars(select(Identity.id).where(Identity.customer_id == customer_id)))


# -- watermarks and recorded coupons -----------------------------------------------------------------


def lock_watermarks(session: Session, names: Sequence[str]) -> dict[str, int] | None:
    """Lock these watermark rows (creating them at 0); return their values, or None if another worker holds them."""
    session.execute(_insert(session)(JourneyWatermark.__table__).on_conflict_do_nothing(),
                    [{"name": n, "value": 0} for n in names])
    query = select(JourneyWatermark.name, JourneyWatermark.value).where(JourneyWatermark.name.in_(list(names)))
    if _postgres(session):
        query = query.with_for_update(skip_locked=True)
    found = dict(session.execute(query).all())
    return found if len(found) == len(names) else None


def ensure_watermarks(session: Session, values: dict[str, int]) -> None:
    """Create missing watermark rows at these values (existing ones keep theirs)."""
    session.execute(_insert(session)(JourneyWatermark.__table__).on_conflict_do_nothing(),
                    [{"name": n, "value": v} for n, v in values.items()])


def set_watermark(session: Session, name: str, value: int) -> None:
    """Store a watermark."""
    session.execute(update(JourneyWatermark).where(JourneyWatermark.name == name).values(value=value))


def record_coupon(session: Session, row: dict[str, Any]) -> None:
    """Insert a recorded coupon unless its idempotency key exists."""
    session.execute(_insert(session)(RecordedCoupon.__table__).on_conflict_do_nothing(
        index_elements=["idempotency_key"]), [row])


def recorded_coupons(session: Session, customer_id: int | None = None) -> list[RecordedCoupon]:
    """Return recorded coupons (of one customer), oldest first."""
    query = select(RecordedCoupon).order_by(RecordedCoupon.id)
    return list(session.scalars(query.where(RecordedCoupon.customer_id == customer_id) if customer_id else query))


def _chunks(ids: Sequence[int], size: int = 1000) -> Iterable[list[int]]:
    items = list(ids)
    for i in range(0, len(items), size):
        yield items[i:i + size]

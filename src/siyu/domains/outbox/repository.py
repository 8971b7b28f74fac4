"""SQL for the outbox: enqueue, the dispatcher's claim and marks, the policy's facts, opt-outs, the policy row.

The claim is one statement shape on both back ends: due rows (``status`` pending, deferred, failed
or an expired ``sending`` lease, ``send_after <= now``) locked ``FOR UPDATE SKIP LOCKED`` (PostgreSQL:
several workers take disjoint rows; SQLite ignores the clause, and the claim runs in a writer
transaction (``BEGIN IMMEDIATE``), so claims are serialised and the conditional UPDATE that follows
cannot race). A claimed row's ``send_after`` becomes its lease's end, so an expired lease is due again
through the same index as new work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.db.bulk import insert_arrays
from siyu.domains.customers import Consent, Customer
from siyu.domains.identity import Identity
from siyu.domains.outbox.models import DoNotContact, MessagingPolicyRow, OutboxMessage, RecordedDelivery

DUE_STATUSES = ("pending", "deferred", "failed", "sending")
CAP_LOCK_SPACE = 0x0B0C  # first key of the two-int advisory locks on customers' caps (no other user)
COUNTED_STATUSES = ("sent", "sending")
T = OutboxMessage.__table__


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert messages, skipping those whose idempotency key exists.

    SQLite: one executemany on the Core table. PostgreSQL: one ``INSERT … SELECT FROM unnest(…)``
    of array parameters (the same statement for every batch; a pipelined executemany runs one
    statement per row). No RETURNING: on PostgreSQL it makes SQLAlchemy build 1,000-row statements
    that cost 3-4x more than the pipelined executemany.
    """
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        insert_arrays(session, T, rows, conflict="(idempotency_key)")
        return
    session.execute(_insert(session)(T).on_conflict_do_nothing(index_elements=["idempotency_key"]), list(rows))


def messages(session: Session, *, kind: str | None, customer_id: int | None, status: str | None,
             limit: int, reason: str | None = None, source: str | None = None) -> list[OutboxMessage]:
    """Return the newest messages matching the filters."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    if customer_id is not None:
        query = query.where(OutboxMessage.customer_id == customer_id)
    if status:
        query = query.where(OutboxMessage.status == status)
    if reason:
        query = query.where(OutboxMessage.reason == reason)
    if source:
        query = query.where(OutboxMessage.source.startswith(source, autoescape=True))
    return list(session.scalars(query))


def status_counts(session: Session) -> dict[str, int]:
    """Return how many messages are in each status."""
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {s: n for s, n in rows}


def reason_counts(session: Session) -> dict[tuple[str, str], int]:
    """Return how many messages carry each (status, reason)."""
    rows = session.execute(select(OutboxMessage.status, OutboxMessage.reason, func.count())
                           .where(OutboxMessage.reason.is_not(None))
                           .group_by(OutboxMessage.status, OutboxMessage.reason))
    return {(s, r): n for s, r, n in rows}


def claim_due(session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    """Lock and return up to ``limit`` due messages, skipping rows other workers hold.

    Two lanes share a batch: mass messages and everything else (journeys, service, welcome
    messages), each oldest due first and each given half the batch, the other's unused half going to
    whichever has more. So a mass message's backlog of a million due rows does not hold a journey's
    step behind it. Each lane reads its own partial index.
    """
    half = max(1, limit // 2)
    direct = _claim_lane(session, now, OutboxMessage.mass_message_id.is_(None), half)
    mass = _claim_lane(session, now, OutboxMessage.mass_message_id.is_not(None), limit - len(direct))
    if len(direct) == half and len(direct) + len(mass) < limit:  # rows we already lock come back again
        direct = _claim_lane(session, now, OutboxMessage.mass_message_id.is_(None), limit - len(mass))
    return sorted([*direct, *mass], key=lambda r: (r.send_after, r.id))


def _claim_lane(session: Session, now: datetime, lane: Any, limit: int) -> list[OutboxMessage]:
    if limit <= 0:
        return []
    query = (select(OutboxMessage).where(lane, OutboxMessage.status.in_(DUE_STATUSES), OutboxMessage.send_after <= now)
             .order_by(OutboxMessage.send_after, OutboxMessage.id).limit(limit)
             .with_for_update(skip_locked=True))
    return list(session.scalars(query))


def apply_updates(session: Session, rows: Sequence[dict[str, Any]], *, holder: str | None = None) -> int:
    """Apply per-message column updates (``b_id`` names the row); with ``holder`` only rows it still holds."""
    if not rows:
        return 0
    cond = [T.c.id == bindparam("b_id")]
    if holder is not None:
        cond += [T.c.claimed_by == holder, T.c.status == "sending"]
    cols = [k for k in rows[0] if k != "b_id"]
    stmt = update(T).where(and_(*cond)).values({c: bindparam(f"v_{c}") for c in cols})
    params = [{"b_id": r["b_id"], **{f"v_{c}": r[c] for c in cols}} for r in rows]
    result = session.execute(stmt, params)
    return result.rowcount if result.rowcount is not None else len(rows)


def lock_customers(session: Session, customer_ids: Iterable[int]) -> None:
    """Serialise claims for these customers until the transaction ends (PostgreSQL; SQLite's writer already is).

    Two workers claiming different rows of one customer would otherwise both count the customer's
    sends before either commits and together pass a cap; the second now waits for the first's claim
    and then sees its ``sending`` rows. Keys in ascending order, so two claims never deadlock.
    """
    ids = sorted(set(customer_ids))
    if ids and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:space, k) FROM unnest(CAST(:ids AS int[])) AS k ORDER BY k"),
                        {"space": CAP_LOCK_SPACE, "ids": [i % 2_147_483_647 for i in ids]})


def _parts(customer_ids: Iterable[int]) -> Iterator[list[int]]:
    """Yield the distinct ids in sorted slices of at most 2,000 (a preview reads tens of thousands)."""
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 2000):
        yield ids[start:start + 2000]


def opt_outs(session: Session, customer_ids: Iterable[int]) -> set[tuple[int, str, str]]:
    """Return the (customer, channel, scope) opt-outs of these customers."""
    out: set[tuple[int, str, str]] = set()
    for part in _parts(customer_ids):
        out.update(session.execute(select(DoNotContact.customer_id, DoNotContact.channel, DoNotContact.scope)
                                   .where(DoNotContact.customer_id.in_(part))).tuples())
    return out


def withdrawn_consents(session: Session, customer_ids: Iterable[int]) -> set[tuple[int, str]]:
    """Return (customer, channel) pairs whose latest marketing consent fact is a withdrawal."""
    latest: dict[tuple[int, str], bool] = {}
    for part in _parts(customer_ids):  # a customer's facts are all in one part, in order
        rows = session.execute(select(Identity.customer_id, Consent.channel, Consent.granted)
                               .join(Identity, Identity.id == Consent.identity_id)
                               .where(Identity.customer_id.in_(part), Consent.purpose == "marketing")
                               .order_by(Consent.recorded_at, Consent.id))
        for c, ch, granted in rows:
            latest[(c, ch)] = granted
    return {k for k, granted in latest.items() if not granted}


def customer_zones(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    """Return the time zone attribute (``attributes.timezone``) of the customers that have one."""
    out: dict[int, str] = {}
    for part in _parts(customer_ids):
        rows = session.execute(select(Customer.id, Customer.attributes).where(Customer.id.in_(part)))
        out.update({c: str(a["timezone"]) for c, a in rows if isinstance(a, dict) and a.get("timezone")})
    return out


def delivered_since(session: Session, customer_ids: Iterable[int], since: datetime) -> list[tuple[Any, ...]]:
    """Return (id, customer, channel, sent_at, mass_message_id) of marketing messages sent or sending since ``since``."""
    out: list[tuple[Any, ...]] = []
    for part in _parts(customer_ids):
        rows = session.execute(select(T.c.id, T.c.customer_id, T.c.channel, T.c.sent_at, T.c.mass_message_id)
                               .where(T.c.customer_id.in_(part), T.c.category == "marketing",
                                      T.c.status.in_(COUNTED_STATUSES), T.c.sent_at >= since))
        out.extend(tuple(r) for r in rows)
    return out


def global_count(session: Session, channel: str, start: datetime, end: datetime) -> int:
    """Return how many marketing messages (on ``channel``, * for all) were sent or are sending in a period."""
    query = select(func.count()).select_from(T).where(T.c.category == "marketing", T.c.status.in_(COUNTED_STATUSES),
                                                      T.c.sent_at >= start, T.c.sent_at < end)
    if channel != "*":
        query = query.where(T.c.channel == channel)
    return int(session.scalar(query) or 0)


def add_opt_out(session: Session, row: dict[str, Any]) -> bool:
    """Insert an opt-out unless the same (customer, channel, scope) exists; return whether it was new."""
    stmt = _insert(session)(DoNotContact.__table__).on_conflict_do_nothing(
        index_elements=["customer_id", "channel", "scope"]).returning(DoNotContact.__table__.c.id)
    return session.execute(stmt, row).first() is not None


def list_opt_outs(session: Session, *, scope: str | None, customer_id: int | None, limit: int) -> list[DoNotContact]:
    """Return the newest opt-outs."""
    query = select(DoNotContact).order_by(DoNotContact.id.desc()).limit(limit)
    if scope:
        query = query.where(DoNotContact.scope == scope)
    if customer_id is not None:
        query = query.where(DoNotContact.customer_id == customer_id)
    return list(session.scalars(query))


def get_opt_out(session: Session, entry_id: int) -> DoNotContact | None:
    """Return one opt-out."""
    return session.get(DoNotContact, entry_id)


def delete_opt_out(session: Session, entry_id: int) -> None:
    """Delete one opt-out."""
    session.execute(delete(DoNotContact).where(DoNotContact.id == entry_id))


def policy_doc(session: Session) -> dict[str, Any] | None:
    """Return the stored policy document, if any."""
    return session.scalar(select(MessagingPolicyRow.doc).where(MessagingPolicyRow.key == "default"))


def save_policy(session: Session, doc: dict[str, Any], actor: str, now: datetime) -> None:
    """Store the policy document."""
    row = session.get(MessagingPolicyRow, "default")
    if row is None:
        session.add(MessagingPolicyRow(key="default", doc=doc, updated_by=actor, updated_at=now))
    else:
        row.doc, row.updated_by, row.updated_at = doc, actor, now
    session.flush()


def record_delivery(session: Session, row: dict[str, Any]) -> bool:
    """Record what a record-only adapter would send, once per idempotency key; return whether it was new."""
    table = RecordedDelivery.__table__
    stmt = _insert(session)(table).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(table.c.id)
    return session.execute(stmt, row).first() is not None


def recorded(session: Session, *, adapter: str | None, limit: int) -> list[RecordedDelivery]:
    """Return the newest recorded deliveries."""
    query = select(RecordedDelivery).order_by(RecordedDelivery.id.desc()).limit(limit)
    if adapter:
        query = query.where(RecordedDelivery.adapter == adapter)
    return list(session.scalars(query))

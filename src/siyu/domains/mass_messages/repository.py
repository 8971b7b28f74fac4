"""SQL of mass messages: the rows, the atomic claim of a send, and what a preview reads.

The preview reads the opt-out list (``DoNotContact``, exported by the outbox package), consent facts
(``Consent``, exported by the customers package) and marketing messages already sent (``OutboxMessage``)
directly, as tables; the rules applied to them live in the service.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.db.bulk import chunks
from siyu.domains.customers import Consent, Customer
from siyu.domains.identity import Identity
from siyu.domains.mass_messages.models import MassMessage
from siyu.domains.outbox import DoNotContact, OutboxMessage

COUNTED = ("sent", "sending")


def add(session: Session, row: MassMessage) -> MassMessage:
    """Insert a mass message and flush it."""
    session.add(row)
    session.flush()
    return row


def get(session: Session, mass_id: int) -> MassMessage | None:
    """Return one mass message."""
    return session.get(MassMessage, mass_id)


def listing(session: Session, status: str | None, limit: int) -> list[MassMessage]:
    """Return mass messages newest first."""
    query = select(MassMessage).order_by(MassMessage.id.desc()).limit(limit)
    if status:
        query = query.where(MassMessage.status == status)
    return list(session.scalars(query))


def claim(session: Session, mass_id: int, now: datetime) -> bool:
    """Move a draft or scheduled message to ``sending``; return False if another sender got there first."""
    result = session.execute(update(MassMessage).where(MassMessage.id == mass_id,
                                                       MassMessage.status.in_(("draft", "scheduled")))
                             .values(status="sending", updated_at=now))
    return bool(result.rowcount)


def due(session: Session, now: datetime, limit: int) -> list[int]:
    """Return ids of scheduled messages whose time has come."""
    return list(session.scalars(select(MassMessage.id).where(MassMessage.status == "scheduled",
                                                             MassMessage.send_at <= now)
                                .order_by(MassMessage.send_at, MassMessage.id).limit(limit)))


def identities_by_customer(session: Session, customer_ids: Sequence[int]) -> dict[int, list[int]]:
    """Return each live customer's identity ids."""
    out: dict[int, list[int]] = defaultdict(list)
    for part in chunks(sorted(set(customer_ids)), 2000):
        for ident, cust in session.execute(select(Identity.id, Identity.customer_id)
                                           .where(Identity.customer_id.in_(list(part)))).tuples():
            out[cust].append(ident)
    return out


def customers_of_identities(session: Session, identity_ids: Sequence[int]) -> list[int]:
    """Return the live customers holding these identities."""
    out: set[int] = set()
    for part in chunks(sorted(set(identity_ids)), 2000):
        out.update(session.scalars(select(Identity.customer_id).join(Customer, Customer.id == Identity.customer_id)
                                   .where(Identity.id.in_(list(part)), Customer.merged_into_id.is_(None))))
    return sorted(out)


def opt_outs(session: Session, customer_ids: Sequence[int]) -> set[tuple[int, str, str]]:
    """Return (customer, channel, scope) opt-outs of these customers."""
    out: set[tuple[int, str, str]] = set()
    for part in chunks(list(customer_ids), 2000):
        out.update(session.execute(select(DoNotContact.customer_id, DoNotContact.channel, DoNotContact.scope)
                                   .where(DoNotContact.customer_id.in_(list(part)))).tuples())
    return out


def withdrawn(session: Session, customer_ids: Sequence[int]) -> set[tuple[int, str]]:
    """Return (customer, channel) pairs whose latest marketing consent fact is a withdrawal."""
    latest: dict[tuple[int, str], bool] = {}
    for part in chunks(list(customer_ids), 2000):
        rows = session.execute(select(Identity.customer_id, Consent.channel, Consent.granted)
                               .join(Identity, Identity.id == Consent.identity_id)
                               .where(Identity.customer_id.in_(list(part)), Consent.purpose == "marketing")
                               .order_by(Consent.recorded_at, Consent.id)).tuples()
        for c, ch, granted in rows:
            latest[(c, ch)] = granted
    return {k for k, granted in latest.items() if not granted}


def marketing_sent(session: Session, customer_ids: Sequence[int], start: datetime,
                   end: datetime) -> list[tuple[int, str, datetime]]:
    """Return (customer, channel, sent_at) of each marketing message sent or sending in [start, end)."""
    out: list[tuple[int, str, datetime]] = []
    for part in chunks(list(customer_ids), 2000):
        out.extend(session.execute(select(OutboxMessage.customer_id, OutboxMessage.channel, OutboxMessage.sent_at)
                                   .where(OutboxMessage.customer_id.in_(list(part)),
                                          OutboxMessage.category == "marketing",
                                          OutboxMessage.status.in_(COUNTED), OutboxMessage.sent_at >= start,
                                          OutboxMessage.sent_at < end)).tuples())
    return out


def enqueued(session: Session, source: str) -> int:
    """Return how many outbox messages carry ``source``."""
    return int(session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.source == source)) or 0)

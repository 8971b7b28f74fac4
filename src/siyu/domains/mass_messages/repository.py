"""SQL of mass messages: the rows, the atomic claim of a send, and who a WeCom audience is sent by.

What the messaging policy would do with each recipient is the outbox's (``outbox.preview_policy``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.db.bulk import chunks
from siyu.domains.customers import Customer
from siyu.domains.identity import Identity
from siyu.domains.mass_messages.models import MassMessage
from siyu.domains.outbox import OutboxMessage


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


def enqueued(session: Session, source: str) -> int:
    """Return how many outbox messages carry ``source``."""
    return int(session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.source == source)) or 0)

"""The outbox: messages a customer will receive, written in the same transaction as their cause.

Writers only enqueue; the dispatcher that enforces caps, consent and quiet hours and hands messages
to channel adapters arrives with the engagement engine. ``idempotency_key`` makes every enqueue
safe to replay: a second message with the same key is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains.outbox import repository as repo
from siyu.domains.outbox.models import OutboxMessage
from siyu.kit.pagination import clamp_limit
from siyu.kit.time import utcnow

@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to enqueue."""

    idempotency_key: str
    kind: str
    channel: str
    payload: dict[str, Any]
    customer_id: int | None = None
    staff_id: int | None = None
    category: str = "transactional"
    send_after: datetime | None = None


def enqueue(session: Session, messages: Sequence[NewMessage]) -> None:
    """Enqueue messages in bulk, ignoring replays of a known idempotency key."""
    if not messages:
        return
    now = utcnow()
    rows = [{"idempotency_key": m.idempotency_key, "kind": m.kind, "channel": m.channel,
             "category": m.category, "customer_id": m.customer_id, "staff_id": m.staff_id,
             "payload": m.payload, "status": "pending", "send_after": m.send_after or now, "created_at": now}
            for m in messages]
    repo.insert_new(session, rows)


def list_messages(session: Session, *, kind: str | None = None, customer_id: int | None = None,
                  status: str | None = None, limit: int | None = None) -> list[OutboxMessage]:
    """Return the newest outbox messages, optionally filtered."""
    return repo.messages(session, kind=kind, customer_id=customer_id, status=status, limit=clamp_limit(limit))

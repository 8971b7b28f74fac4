"""Read rules of events used by other domains (the customer timeline).

Ingestion's writes live with ingestion; this module only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains.events import repository as repo


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One event as the timeline shows it."""

    id: int
    at: datetime
    identity_id: int
    event_id: str
    type: str
    channel: str | None
    properties: dict[str, Any]


def events_before(session: Session, identity_ids: Sequence[int], *, before: tuple[datetime, int] | None,
                  limit: int) -> list[EventEntry]:
    """Return the newest ``limit`` events of these identities older than ``before`` = (at, id)."""
    return [EventEntry(id=e.id, at=e.occurred_at, identity_id=e.identity_id, event_id=e.event_id, type=e.type,
                       channel=e.channel, properties=e.properties or {})
            for e in repo.events_before(session, identity_ids, before, limit)]

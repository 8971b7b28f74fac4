"""Read-side SQL of events: one identity set's events, newest first, by keyset.

Ingestion's bulk writes live with ingestion; this module only reads. The keyset is
``(occurred_at, id)`` so pages never skip or repeat events that share a timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from siyu.domains.events.models import Event


def events_before(session: Session, identity_ids: Sequence[int], before: tuple[datetime, int] | None,
                  limit: int) -> list[Event]:
    """Return up to ``limit`` events of ``identity_ids`` strictly older than ``before`` (at, id), newest first."""
    if not identity_ids:
        return []
    query = select(Event).where(Event.identity_id.in_(list(identity_ids)))
    if before is not None:
        at, row_id = before
        query = query.where(or_(Event.occurred_at < at, and_(Event.occurred_at == at, Event.id < row_id)))
    return list(session.scalars(query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)))

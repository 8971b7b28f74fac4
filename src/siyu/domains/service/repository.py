"""SQL of the service domain: rules, FAQs, staff settings, conversations, clocks and the events it reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from siyu.domains.events import Event
from siyu.domains.identity import Identity
from siyu.domains.service.models import (
    Conversation,
    FaqEntry,
    ResponseClock,
    ServiceCursor,
    ServiceRule,
    StaffServiceSettings,
    SynonymGroup,
)

EVENT_TYPES = ("message_received", "message_sent")


def rules(session: Session, *, enabled_only: bool = False) -> list[ServiceRule]:
    """Return rules by priority (highest first), then id."""
    stmt = select(ServiceRule).order_by(ServiceRule.priority.desc(), ServiceRule.id)
    if enabled_only:
        stmt = stmt.where(ServiceRule.enabled.is_(True))
    return list(session.scalars(stmt))


def faqs(session: Session, *, enabled_only: bool = False) -> list[FaqEntry]:
    """Return FAQ entries in id order."""
    stmt = select(FaqEntry).order_by(FaqEntry.id)
    if enabled_only:
        stmt = stmt.where(FaqEntry.enabled.is_(True))
    return list(session.scalars(stmt))


def synonym_groups(session: Session) -> list[SynonymGroup]:
    """Return every synonym group in id order."""
    return list(session.scalars(select(SynonymGroup).order_by(SynonymGroup.id)))


def staff_settings(session: Session, staff_ids: Iterable[int]) -> dict[int, StaffServiceSettings]:
    """Return {staff_id: settings} of those that have settings."""
    ids = list(set(staff_ids))
    if not ids:
        return {}
    return {s.staff_id: s for s in session.scalars(select(StaffServiceSettings)
                                                   .where(StaffServiceSettings.staff_id.in_(ids)))}


def all_staff_settings(session: Session) -> list[StaffServiceSettings]:
    """Return every staff member's settings."""
    return list(session.scalars(select(StaffServiceSettings).order_by(StaffServiceSettings.staff_id)))


def cursor(session: Session, name: str) -> ServiceCursor | None:
    """Return the watermark row ``name``, locked for update where the store supports it."""
    return session.scalars(select(ServiceCursor).where(ServiceCursor.name == name).with_for_update()).first()


def events_after(session: Session, after_id: int, limit: int) -> list[tuple[Event, int]]:
    """Return (event, customer_id) of message events with id above ``after_id``, in id order."""
    stmt = (select(Event, Identity.customer_id).join(Identity, Identity.id == Event.identity_id)
            .where(Event.id > after_id, Event.type.in_(EVENT_TYPES)).order_by(Event.id).limit(limit))
    return [(e, cid) for e, cid in session.execute(stmt)]


def conversations(session: Session, *, state: str | None, staff_id: int | None, limit: int) -> list[Conversation]:
    """Return the most recently updated conversations, optionally filtered."""
    stmt = select(Conversation).order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(Conversation.state == state)
    if staff_id is not None:
        stmt = stmt.where(Conversation.staff_id == staff_id)
    return list(session.scalars(stmt))


def conversations_of(session: Session, customer_ids: Iterable[int]) -> list[Conversation]:
    """Return every conversation of these customers."""
    ids = list(set(customer_ids))
    return list(session.scalars(select(Conversation).where(Conversation.customer_id.in_(ids)))) if ids else []


def open_clocks_of(session: Session, customer_ids: Iterable[int]) -> list[ResponseClock]:
    """Return the unreplied clocks of these customers in id order."""
    ids = list(set(customer_ids))
    if not ids:
        return []
    return list(session.scalars(select(ResponseClock).where(ResponseClock.customer_id.in_(ids),
                                                            ResponseClock.replied_at.is_(None))
                                .order_by(ResponseClock.id)))


def clocked_events(session: Session, event_ids: Sequence[int]) -> set[int]:
    """Return which of these inbound events already started a clock."""
    if not event_ids:
        return set()
    return set(session.scalars(select(ResponseClock.event_id).where(ResponseClock.event_id.in_(list(event_ids)))))


def due_unalerted(session: Session, now: datetime, limit: int) -> list[ResponseClock]:
    """Return clocks past their deadline (unreplied, or replied late) that raised no alert yet."""
    late = and_(ResponseClock.replied_at.is_not(None), ResponseClock.replied_at > ResponseClock.due_at)
    stmt = (select(ResponseClock).where(ResponseClock.alerted_at.is_(None), ResponseClock.due_at <= now,
                                        (ResponseClock.replied_at.is_(None)) | late)
            .order_by(ResponseClock.due_at, ResponseClock.id).limit(limit))
    return list(session.scalars(stmt))


def clocks_started(session: Session, start: datetime, end: datetime,
                   staff_ids: Sequence[int] | None = None) -> list[ResponseClock]:
    """Return clocks started in [start, end), optionally of some staff members."""
    stmt = select(ResponseClock).where(ResponseClock.started_at >= start, ResponseClock.started_at < end)
    if staff_ids:
        stmt = stmt.where(ResponseClock.staff_id.in_(list(staff_ids)))
    return list(session.scalars(stmt.order_by(ResponseClock.id)))


def add(session: Session, row: Any) -> Any:
    """Add a row and flush so it has its id."""
    session.add(row)
    session.flush()
    return row


def delete(session: Session, row: Any) -> None:
    """Delete a row (a rule, an FAQ entry, a synonym group) and flush."""
    session.delete(row)
    session.flush()

"""Events: append-only behavioural facts, idempotent by ``event_id``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class Event(Base):
    """One thing a person did or that happened to them, anchored on one identity."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_identity_occurred", "identity_id", "occurred_at"),
        Index("ix_events_type_occurred", "type", "occurred_at", "identity_id"),  # covering: a segment set reads no row
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    identity_id: Mapped[int] = mapped_column(BigId, ForeignKey("identities.id"))
    channel: Mapped[str | None] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)

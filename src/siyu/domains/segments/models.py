"""Segments, their members over time, and the watermarks of the incremental refresh.

A membership is a stay: ``entered_at`` when the customer started to match, ``exited_at`` when they
stopped (NULL while they match). Stays are closed, never deleted, so the history of who entered and
left a segment, and when, is kept; a journey engine starts on rows entered after its own watermark.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class Segment(Base):
    """A named rule (docs/segments.md) and how fresh its stored members are."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last full evaluation
    touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last incremental evaluation
    members: Mapped[int] = mapped_column(Integer, default=0)
    refresh_ms: Mapped[int | None] = mapped_column(Integer)  # how long the last full evaluation took


class SegmentMembership(Base):
    """One stay of one customer in one segment."""

    __tablename__ = "segment_memberships"
    __table_args__ = (
        Index("uq_segment_memberships_open", "segment_id", "customer_id", unique=True,
              sqlite_where=text("exited_at IS NULL"), postgresql_where=text("exited_at IS NULL")),
        Index("ix_segment_memberships_customer", "customer_id", "segment_id"),
        Index("ix_segment_memberships_segment_entered", "segment_id", "entered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    segment_id: Mapped[int] = mapped_column(BigId, ForeignKey("segments.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    exited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SegmentWatermark(Base):
    """The highest id of a fact table the incremental refresh has looked at (``name``: the table)."""

    __tablename__ = "segment_watermarks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

"""Customers (one row per person once merged), custom attributes and consent records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class Customer(Base):
    """A person. A merged customer keeps its row as a tombstone pointing at the survivor."""

    __tablename__ = "customers"
    # Partial: most customers hold NULL in these columns (live, no name, no known source), every look-up
    # is an equality or IN (which implies NOT NULL, so both SQLite and PostgreSQL still use the index), and
    # an entry per NULL cost every new customer four index writes (first-time imports: docs/PERFORMANCE.md).
    __table_args__ = tuple(
        Index(f"ix_customers_{column}", column, sqlite_where=text(f"{column} IS NOT NULL"),
              postgresql_where=text(f"{column} IS NOT NULL"))
        for column in ("merged_into_id", "name_idx", "source_platform", "source_channel_code_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Always points at a live root (flattened on every merge), NULL for live customers.
    merged_into_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customers.id"))
    name_enc: Mapped[str | None] = mapped_column(Text)  # AES-GCM, see kit.crypto
    name_idx: Mapped[str | None] = mapped_column(String(32))  # blind index for exact search
    name_masked: Mapped[str | None] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(8), default="unknown")
    birthday: Mapped[date | None] = mapped_column(Date)
    region: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(32))
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    source_platform: Mapped[str | None] = mapped_column(String(32))
    source_channel_code_id: Mapped[int | None] = mapped_column(BigId)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Consent(Base):
    """An append-only consent fact: granted or withdrawn, per channel and purpose.

    Like every fact it anchors on the identity its event came through, so it follows that identity
    through merges and splits: a consent belongs to the person, not to a customer row.
    """

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_identity_channel", "identity_id", "channel", "recorded_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    identity_id: Mapped[int] = mapped_column(BigId, ForeignKey("identities.id"))
    channel: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(32), default="marketing")
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FollowUpNote(Base):
    """A follow-up note (跟进记录) a person wrote about a customer; append-only, never edited."""

    __tablename__ = "customer_notes"
    __table_args__ = (Index("ix_customer_notes_customer_id_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"))
    method: Mapped[str] = mapped_column(String(16))  # chat | call | visit | other
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(80))  # the actor: user:<name>
    staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id"))  # set when a staff user wrote it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""Customer groups (社群) and membership history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, UTCDateTime


class CustomerGroup(Base):
    """A WeCom customer group (or any community) identified by its chat id."""

    __tablename__ = "customer_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    owner_staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dissolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GroupMembership(Base):
    """One stay of one person in one group: joined, and left (NULL while still in it)."""

    __tablename__ = "group_memberships"
    __table_args__ = (
        Index("ix_group_memberships_group_left", "group_id", "left_at"),
        Index("ix_group_memberships_identity", "identity_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer_groups.id"))
    identity_id: Mapped[int] = mapped_column(BigId, ForeignKey("identities.id"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    join_event_id: Mapped[str | None] = mapped_column(String(128))

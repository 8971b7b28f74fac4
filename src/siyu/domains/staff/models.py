"""Staff members and who follows whom (ownership, 归属)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, UTCDateTime


class Staff(Base):
    """A frontline staff member (导购 / 顾问) with a WeCom user id."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    userid: Mapped[str] = mapped_column(String(64), unique=True)  # WeCom userid
    name: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    store: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | departed
    departed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Ownership(Base):
    """A follow relation: staff member follows the person behind ``identity_id``.

    A customer may be followed by several staff. ``removed_at`` set means the relation ended
    (``removed_by``: customer deleted staff, staff deleted customer, transfer, departure).
    """

    __tablename__ = "ownerships"
    __table_args__ = (
        # at most one open follow relation per (person's identity, staff member), enforced by the store
        Index("uq_ownerships_active", "identity_id", "staff_id", unique=True,
              sqlite_where=text("removed_at IS NULL"), postgresql_where=text("removed_at IS NULL")),
        Index("ix_ownerships_identity_staff", "identity_id", "staff_id"),
        Index("ix_ownerships_staff_removed", "staff_id", "removed_at"),
        # (code, added_at) serves a code's contacts of a day (daily caps); removed_at makes it cover the
        # channel-code list's "followers now" count, which otherwise reads every row of every code
        # (0.55 s at 1M customers on SQLite, 0.06 s covered)
        Index("ix_ownerships_code_added_removed", "channel_code_id", "added_at", "removed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    identity_id: Mapped[int] = mapped_column(BigId, ForeignKey("identities.id"))
    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    channel_code_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("channel_codes.id"))
    source: Mapped[str] = mapped_column(String(32))  # channel_code | import | transfer | event
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(16))
    transferred_from_id: Mapped[int | None] = mapped_column(BigId)


class StaffTransfer(Base):
    """An audited move of customers from one staff member to another."""

    __tablename__ = "staff_transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    from_staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    to_staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    reason: Mapped[str] = mapped_column(String(16))  # in_service | departure
    customers: Mapped[int] = mapped_column(default=0)
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

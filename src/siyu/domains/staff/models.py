"""Staff members, who follows whom (ownership, 归属), and how staff members answer customers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
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


class StaffBehavior(Base):
    """One staff member's WeCom contact statistics for one day (联系客户统计, get_user_behavior_data).

    WeCom computes these from the chats themselves (the messages are only available through the paid
    会话存档), per staff member per day; a day sent again replaces the stored one. The reply
    figures are absent on days without customer-started chats (without replies), as WeCom reports them.
    """

    __tablename__ = "staff_behavior_daily"
    __table_args__ = (UniqueConstraint("staff_id", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    day: Mapped[date] = mapped_column(Date)  # the brand's calendar day (WeCom's stat_time)
    chat_cnt: Mapped[int] = mapped_column(Integer)  # chats with customers
    message_cnt: Mapped[int] = mapped_column(Integer)  # messages the staff member sent
    reply_rate_bp: Mapped[int | None] = mapped_column(Integer)  # reply_percentage in hundredths of a percent
    avg_reply_minutes: Mapped[int | None] = mapped_column(Integer)  # avg_reply_time: minutes to the first reply
    negative_feedback_cnt: Mapped[int] = mapped_column(Integer)  # customers who deleted or blocked the member
    new_apply_cnt: Mapped[int] = mapped_column(Integer)  # friend requests the member sent
    new_contact_cnt: Mapped[int] = mapped_column(Integer)  # new customers
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""Channel codes (渠道活码): which staff member a scan reaches, and what it records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class ChannelCode(Base):
    """One acquisition channel's code with its assignment strategy."""

    __tablename__ = "channel_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(30), unique=True)  # WeCom contact-way state
    platform: Mapped[str] = mapped_column(String(32))  # douyin | xiaohongshu | store | poster | parcel …
    channel: Mapped[str | None] = mapped_column(String(80))
    strategy: Mapped[str] = mapped_column(String(16))  # fixed | round_robin | weighted | least_loaded
    working_hours: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    backup_staff_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    tags: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    welcome_template: Mapped[str | None] = mapped_column(Text)
    # where the printed code's landing link sends a scan: the WeCom 联系我 / 多人活码 link, re-pointable any time
    landing_url: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    rr_cursor: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChannelCodeStaff(Base):
    """A staff member in a code's pool, with a weight and an optional daily cap."""

    __tablename__ = "channel_code_staff"
    __table_args__ = (UniqueConstraint("code_id", "staff_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_codes.id"))
    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    weight: Mapped[int] = mapped_column(default=1)
    daily_cap: Mapped[int | None] = mapped_column()
    position: Mapped[int] = mapped_column(default=0)


class ChannelCodeDaily(Base):
    """Per code, per day in the brand's zone: landing-link scans, contacts added and lost."""

    __tablename__ = "channel_code_daily"
    __table_args__ = (UniqueConstraint("code_id", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_codes.id"))
    day: Mapped[date] = mapped_column(Date)
    added: Mapped[int] = mapped_column(default=0)
    lost: Mapped[int] = mapped_column(default=0)
    scans: Mapped[int] = mapped_column(default=0, server_default="0")

"""What a channel code cost over a period of days, as an operator entered it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, UTCDateTime


class ChannelCost(Base):
    """A cost (integer fen) of one channel code over brand days ``first_day`` … ``last_day`` inclusive.

    Rows are appended and deleted, never edited: a correction is a deletion and a new entry, both
    audited. Several rows may cover the same days (a poster print run and its placement fee).
    """

    __tablename__ = "channel_costs"
    __table_args__ = (Index("ix_channel_costs_code_days", "channel_code_id", "first_day", "last_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_code_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_codes.id"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

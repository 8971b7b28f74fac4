"""Tags and which customers carry them (rule and interest tags arrive with customer intelligence)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, UTCDateTime


class Tag(Base):
    """A named tag in a group."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    group_name: Mapped[str] = mapped_column(String(64), default="默认")
    kind: Mapped[str] = mapped_column(String(16), default="manual")  # manual | channel | rule | interest
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustomerTag(Base):
    """A tag held by a customer, from ``added_at`` until ``removed_at``."""

    __tablename__ = "customer_tags"
    __table_args__ = (
        Index("ix_customer_tags_customer_tag", "customer_id", "tag_id"),
        Index("ix_customer_tags_tag_removed", "tag_id", "removed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"))
    tag_id: Mapped[int] = mapped_column(BigId, ForeignKey("tags.id"))
    source: Mapped[str] = mapped_column(String(32))  # manual | channel_code:<id> | rule | import
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

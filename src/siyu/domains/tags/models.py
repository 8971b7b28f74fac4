"""Tags, their groups, rule tags' rules, content-interest scores, and which customers hold which tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class TagGroup(Base):
    """A group of tags; in an exclusive group a customer holds at most one tag at a time."""

    __tablename__ = "tag_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Tag(Base):
    """A named tag in a group (``group_name`` names a :class:`TagGroup`)."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    group_name: Mapped[str] = mapped_column(String(64), default="默认", index=True)
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
    source: Mapped[str] = mapped_column(String(32))  # manual | channel_code:<id> | rule | interest | segment:<id>
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TagRule(Base):
    """The condition (segment rule language, docs/segments.md) a rule tag is held by."""

    __tablename__ = "tag_rules"

    tag_id: Mapped[int] = mapped_column(BigId, ForeignKey("tags.id"), primary_key=True)
    rule: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InterestScore(Base):
    """How interested a customer is in a content topic, as of ``computed_at`` (decayed, weighted actions)."""

    __tablename__ = "interest_scores"
    __table_args__ = (Index("ix_interest_scores_topic", "topic", "score"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)

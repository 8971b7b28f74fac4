"""Identities, the links between them, merges, blocks and the review queue.

Facts (events, orders, follow relations, group memberships) anchor on an identity, never on a
customer: the customer of a fact is ``identities.customer_id`` of its anchor. Merging moves
identities to the survivor; splitting moves one back out, and the facts it carried follow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class Identity(Base):
    """One identifier of one person (phone, unionid, openid:<appid>, …)."""

    __tablename__ = "identities"
    __table_args__ = (Index("ix_identities_customer_kind", "customer_id", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(80))
    lookup: Mapped[str] = mapped_column(String(32), unique=True)  # keyed blind index of kind+value
    value: Mapped[str | None] = mapped_column(String(256))  # plaintext for non-PII kinds only
    value_enc: Mapped[str | None] = mapped_column(Text)  # AES-GCM for PII kinds
    masked: Mapped[str] = mapped_column(String(256))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"))
    origin_customer_id: Mapped[int] = mapped_column(BigId)  # the customer it was first created with
    cause_type: Mapped[str] = mapped_column(String(16))
    cause_ref: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdentityLink(Base):
    """Two identities seen together in one fact (or linked by hand): an edge of the graph."""

    __tablename__ = "identity_links"
    __table_args__ = (UniqueConstraint("a_id", "b_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    a_id: Mapped[int] = mapped_column(BigId, ForeignKey("identities.id"))  # a_id < b_id
    b_id: Mapped[int] = mapped_column(BigId, ForeignKey("identities.id"), index=True)
    cause_type: Mapped[str] = mapped_column(String(16))  # event | order | import | manual
    cause_ref: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Merge(Base):
    """Customer ``merged_id`` was folded into ``survivor_id`` because of one fact or one person."""

    __tablename__ = "merges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), index=True)
    merged_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), index=True)
    identity_ids: Mapped[list[int]] = mapped_column(JsonDoc)  # what the merged customer brought
    via_identity_ids: Mapped[list[int]] = mapped_column(JsonDoc)  # the linking identities
    cause_type: Mapped[str] = mapped_column(String(16))
    cause_ref: Mapped[str] = mapped_column(String(160))
    actor: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String(80))


class IdentityBlock(Base):
    """An operator said these two identities are different people: never link them again."""

    __tablename__ = "identity_blocks"
    __table_args__ = (UniqueConstraint("a_id", "b_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    a_id: Mapped[int] = mapped_column(BigId, ForeignKey("identities.id"))
    b_id: Mapped[int] = mapped_column(BigId, ForeignKey("identities.id"), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdentityIssue(Base):
    """The review queue: refused junk values and blocked merges (conflicts)."""

    __tablename__ = "identity_issues"
    __table_args__ = (Index("ix_identity_issues_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    category: Mapped[str] = mapped_column(String(16))  # junk | conflict | blocked
    kind: Mapped[str] = mapped_column(String(80))
    value_masked: Mapped[str] = mapped_column(String(256))
    customer_id: Mapped[int | None] = mapped_column(BigId)
    other_customer_id: Mapped[int | None] = mapped_column(BigId)
    cause_type: Mapped[str] = mapped_column(String(16))
    cause_ref: Mapped[str] = mapped_column(String(160))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolution: Mapped[str | None] = mapped_column(Text)

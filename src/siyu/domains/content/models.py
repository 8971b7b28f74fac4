"""The content library: items, their A/B variants, collections, tracked links, sends and clicks.

An item holds metadata and a URL or media id (the binary lives wherever the brand hosts it); its
``body`` is a personalisation template (docs/content.md). ``content_sends`` records every send of an
item to a customer (the outbox key it went out under, the variant, the customer's AIPL stage then);
``content_links`` gives each (item, customer, send) a short code; ``content_clicks`` records each
click once by its click id. Metrics and the smart-push bandit read these three tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class ContentItem(Base):
    """One piece of content: kind, title, personalisable body, where it lives, and what it is about."""

    __tablename__ = "content_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # text | image | article | video | mini_program | poster | file
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")  # a sandboxed template (docs/content.md)
    url: Mapped[str | None] = mapped_column(String(1000))  # where a click goes (tracked through /l/{code})
    media_id: Mapped[str | None] = mapped_column(String(200))  # a platform media id (WeCom, OA)
    meta: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)  # mini-program appid/path, file name…
    topics: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    products: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    stages: Mapped[list[str]] = mapped_column(JsonDoc, default=list)  # AIPL stages it fits; empty: any
    audiences: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | archived
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContentVariant(Base):
    """An A/B variant of an item: its own title and body, chosen by weight."""

    __tablename__ = "content_variants"
    __table_args__ = (Index("uq_content_variants_content_id_name", "content_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content_id: Mapped[int] = mapped_column(BigId, ForeignKey("content_items.id"))
    name: Mapped[str] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    weight: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContentCollection(Base):
    """A named, ordered set of items (journeys ask for "the best item from collection X")."""

    __tablename__ = "content_collections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContentCollectionItem(Base):
    """An item's place in a collection."""

    __tablename__ = "content_collection_items"

    collection_id: Mapped[int] = mapped_column(BigId, ForeignKey("content_collections.id"), primary_key=True)
    content_id: Mapped[int] = mapped_column(BigId, ForeignKey("content_items.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ContentSend(Base):
    """An item sent to a customer under an outbox idempotency key (what metrics count as sent)."""

    __tablename__ = "content_sends"
    __table_args__ = (Index("ix_content_sends_customer_id_sent_at", "customer_id", "sent_at"),
                      Index("ix_content_sends_content_id_stage", "content_id", "stage"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    send_key: Mapped[str] = mapped_column(String(160), unique=True)  # the outbox idempotency key
    content_id: Mapped[int] = mapped_column(BigId, ForeignKey("content_items.id"))
    variant_id: Mapped[int | None] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId)
    stage: Mapped[str] = mapped_column(String(16), default="none")  # AIPL stage at send time; none: unknown
    source: Mapped[str] = mapped_column(String(80))  # mass:<id> | journey:<id>:step:<n> | manual
    link_code: Mapped[str | None] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attribution_until: Mapped[datetime] = mapped_column(UTCDateTime)  # sent_at + 7 days: the bandit's conversion window


class ContentLink(Base):
    """A tracked short link ``/l/{code}``: one per (item, customer, send)."""

    __tablename__ = "content_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    content_id: Mapped[int] = mapped_column(BigId, ForeignKey("content_items.id"))
    variant_id: Mapped[int | None] = mapped_column(BigId)
    customer_id: Mapped[int | None] = mapped_column(BigId)
    send_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    target_url: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContentClick(Base):
    """One click on a tracked link, once per click id (a replay of the same id is ignored)."""

    __tablename__ = "content_clicks"
    __table_args__ = (Index("ix_content_clicks_content_id_clicked_at", "content_id", "clicked_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    click_id: Mapped[str] = mapped_column(String(80), unique=True)
    link_id: Mapped[int] = mapped_column(BigId, ForeignKey("content_links.id"))
    content_id: Mapped[int] = mapped_column(BigId)
    variant_id: Mapped[int | None] = mapped_column(BigId)
    customer_id: Mapped[int | None] = mapped_column(BigId, index=True)
    send_key: Mapped[str | None] = mapped_column(String(160))
    clicked_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""Service tables: auto-reply rules, the FAQ, per-staff SLA settings, conversations and first-response clocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class ServiceRule(Base):
    """A keyword rule: when an inbound text matches, reply (or show a numbered menu)."""

    __tablename__ = "service_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    match_type: Mapped[str] = mapped_column(String(16))  # exact | contains | fuzzy | regex
    patterns: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    threshold: Mapped[int | None] = mapped_column(Integer)  # fuzzy only: rapidfuzz ratio 0-100
    reply: Mapped[str] = mapped_column(Text)
    options: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)  # menu: [{key, label, reply}]
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher wins
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FaqEntry(Base):
    """A question of the knowledge base with its answer, other phrasings and dictionary words."""

    __tablename__ = "service_faqs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    alternatives: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    keywords: Mapped[list[str]] = mapped_column(JsonDoc, default=list)  # added to jieba's dictionary
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SynonymGroup(Base):
    """Words the FAQ treats as one (退款 / 退钱 / 返款): a query word brings in the others."""

    __tablename__ = "service_synonyms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    words: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffServiceSettings(Base):
    """A staff member's first-response SLA, working hours and the supervisor who hears of breaches."""

    __tablename__ = "service_staff_settings"

    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"), primary_key=True)
    sla_minutes: Mapped[int] = mapped_column(Integer, default=30)
    working_hours: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)  # channel codes' format
    supervisor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Conversation(Base):
    """Where a customer's private chat with a staff member stands (bot_answered | handed_off | staff_replied)."""

    __tablename__ = "service_conversations"
    __table_args__ = (Index("ix_service_conversations_customer_staff", "customer_id", "staff_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    staff_id: Mapped[int | None] = mapped_column(BigId)
    state: Mapped[str] = mapped_column(String(16))
    menu_rule_id: Mapped[int | None] = mapped_column(BigId)  # the menu the customer was last shown
    last_event_id: Mapped[int] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ResponseClock(Base):
    """One first-response clock: a handed-off inbound message until the staff member's first reply."""

    __tablename__ = "service_clocks"
    __table_args__ = (Index("ix_service_clocks_open", "customer_id", "staff_id", "replied_at"),
                      Index("ix_service_clocks_due", "alerted_at", "due_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId, unique=True)  # events.id of the inbound message
    customer_id: Mapped[int] = mapped_column(BigId)
    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sla_minutes: Mapped[int] = mapped_column(Integer)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_event_id: Mapped[int | None] = mapped_column(BigId)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ServiceCursor(Base):
    """How far the service processing has read the events table (the watermark, events.id)."""

    __tablename__ = "service_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

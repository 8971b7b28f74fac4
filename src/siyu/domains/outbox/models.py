"""The outbox and its policy tables: everything a customer will receive, written in the same transaction
as its cause, and the rules the dispatcher applies before handing a message to a channel adapter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class OutboxMessage(Base):
    """A message and its delivery lifecycle (see docs/messaging.md for the statuses and reasons).

    ``send_after`` is the next time the dispatcher may look at the message: its first due time,
    the end of quiet hours or of a cap period (deferred), or the next retry (failed).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_send_after", "status", "send_after"),
                      Index("ix_outbox_customer_sent", "customer_id", "sent_at"),
                      # the dispatcher's two claim lanes (repository.claim_due): mass messages and the rest
                      Index("ix_outbox_due_mass", "status", "send_after",
                            postgresql_where=text("mass_message_id IS NOT NULL"),
                            sqlite_where=text("mass_message_id IS NOT NULL")),
                      Index("ix_outbox_due_direct", "status", "send_after",
                            postgresql_where=text("mass_message_id IS NULL"),
                            sqlite_where=text("mass_message_id IS NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # welcome_message | journey_message | mass_message | …
    channel: Mapped[str] = mapped_column(String(32))  # wecom | wecom_group | sms | email | webhook
    category: Mapped[str] = mapped_column(String(16), default="transactional")  # transactional | marketing
    customer_id: Mapped[int | None] = mapped_column(BigId, index=True)
    staff_id: Mapped[int | None] = mapped_column(BigId)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    send_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str | None] = mapped_column(String(80))  # journey:12:step:3 | mass:7 | channel_code:4
    subject: Mapped[str | None] = mapped_column(String(200))
    content_id: Mapped[int | None] = mapped_column(BigId)
    mass_message_id: Mapped[int | None] = mapped_column(BigId)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reason: Mapped[str | None] = mapped_column(String(48))  # why it was not sent (yet)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DoNotContact(Base):
    """An opt-out: a customer who must not receive messages on a channel (``*``: any channel).

    ``scope`` ``all`` is the do-not-contact list (nothing at all, not even transactional messages);
    ``marketing`` is an unsubscribe (keyword reply, email link): transactional messages still go.
    """

    __tablename__ = "do_not_contact"
    __table_args__ = (Index("uq_do_not_contact_customer_channel_scope", "customer_id", "channel", "scope",
                            unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(16))  # all | marketing
    source: Mapped[str] = mapped_column(String(80))  # operator:<actor> | keyword:退订 | email_link | api
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessagingPolicyRow(Base):
    """The stored messaging policy (one row, key ``default``): caps, quiet hours, platform limits."""

    __tablename__ = "messaging_policy"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecordedDelivery(Base):
    """What a record-only adapter (WeCom until its client exists, the SMS logging provider) would have sent.

    Unique on ``idempotency_key``: a replay after a killed worker records nothing twice.
    """

    __tablename__ = "recorded_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    adapter: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""Mass messages (群发): one message to a segment, to customer groups or to the customers of staff members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class MassMessage(Base):
    """A mass message and its lifecycle: draft → scheduled → sent, or cancelled before it is sent.

    ``audience`` is ``{"segment": id}``, ``{"groups": [id, …]}`` or ``{"staff": [id, …]}``. Sending
    enqueues one outbox message per recipient (key ``mass:<id>:<customer id>``, or per group
    ``mass:<id>:group:<group id>``), so sending twice enqueues nothing twice.
    """

    __tablename__ = "mass_messages"
    __table_args__ = (Index("ix_mass_messages_status_send_at", "status", "send_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    audience: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    channel: Mapped[str] = mapped_column(String(32))  # wecom | wecom_group | sms | email
    content_id: Mapped[int | None] = mapped_column(BigId)  # None: each recipient's best item of ``collection``
    collection: Mapped[str | None] = mapped_column(String(80))  # smart push: a content collection's id or name
    variant: Mapped[str | None] = mapped_column(String(32))
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | scheduled | sending | sent | cancelled
    recipients: Mapped[int | None] = mapped_column(Integer)  # messages enqueued when sent
    skipped: Mapped[int | None] = mapped_column(Integer)  # customers not sent: no staff member (wecom), no item left
    tasks: Mapped[int | None] = mapped_column(Integer)  # confirmation tasks created
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

"""Staff tasks (跟进任务): follow-ups a staff member does by hand, created by journeys, mass messages or SLAs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, UTCDateTime


class StaffTask(Base):
    """One follow-up: who does it, for which customer, by when, and where it came from."""

    __tablename__ = "staff_tasks"
    __table_args__ = (Index("ix_staff_tasks_staff_id_status_due_at", "staff_id", "status", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    staff_id: Mapped[int | None] = mapped_column(BigId)
    customer_id: Mapped[int | None] = mapped_column(BigId, index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | cancelled
    source: Mapped[str] = mapped_column(String(80), default="manual")  # manual | journey:<id> | mass_message:<id> | sla
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(80))

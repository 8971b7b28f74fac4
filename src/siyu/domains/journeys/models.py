"""Journeys (SOP): definitions and their versions, enrolments (the durable state), step runs (the trace).

An enrolment is one customer's passage through one version of a journey. Its row is the whole
execution state: the step it is at, when that step was entered, how many steps it has run
(``visit``, part of every side effect's idempotency key), and when the scheduler should look at it
next (``next_run_at``; NULL once finished). ``lease_until`` is the SQLite claim (see scheduler.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class Journey(Base):
    """A named journey; its definition lives in versions, ``current_version`` is the one new customers get."""

    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | active | paused | archived
    trigger_type: Mapped[str] = mapped_column(String(24))  # of the current version, for the feeders
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # facts before this do not enrol
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JourneyVersion(Base):
    """One immutable definition of a journey."""

    __tablename__ = "journey_versions"
    __table_args__ = (UniqueConstraint("journey_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(BigId, ForeignKey("journeys.id"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    published: Mapped[bool] = mapped_column(default=False)  # ever run: editing it makes a new version
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Enrolment(Base):
    """One customer in one version of a journey."""

    __tablename__ = "journey_enrolments"
    __table_args__ = (
        Index("ix_journey_enrolments_due", "status", "next_run_at"),
        Index("ix_journey_enrolments_journey_customer", "journey_id", "customer_id"),
        Index("ix_journey_enrolments_waiting", "customer_id", "waiting_for"),
        Index("uq_journey_enrolments_open", "journey_id", "customer_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(BigId, ForeignKey("journeys.id"))
    version: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16))  # active | done | exited | failed | holdout
    arm: Mapped[str] = mapped_column(String(12), default="treatment")  # treatment | holdout
    step: Mapped[str | None] = mapped_column(String(40))
    step_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    visit: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    waiting_for: Mapped[str | None] = mapped_column(String(80))  # event type a wait_for_event step awaits
    source: Mapped[str] = mapped_column(String(80))  # what enrolled her: event:<id> | segment:<id> | manual:<actor> …
    reason: Mapped[str | None] = mapped_column(String(200))  # why it exited or failed
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StepRun(Base):
    """One step an enrolment ran: when, what it decided and why (the per-customer trace)."""

    __tablename__ = "journey_step_runs"
    __table_args__ = (UniqueConstraint("enrolment_id", "visit"),
                      Index("ix_journey_step_runs_journey_step", "journey_id", "version", "step"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(BigId, ForeignKey("journey_enrolments.id"))
    journey_id: Mapped[int] = mapped_column(BigId)
    version: Mapped[int] = mapped_column(Integer)
    visit: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(16))  # done | failed | exited
    next_step: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class JourneyWatermark(Base):
    """How far a trigger feeder has read (``events``, ``order_facts``, ``segment_stays``, ``daily:<id>``)."""

    __tablename__ = "journey_watermarks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class RecordedCoupon(Base):
    """A coupon a journey asked for, recorded by :class:`~siyu.domains.journeys.ports.RecordOnlyCouponIssuer`
    until the loyalty capability issues real ones."""

    __tablename__ = "journey_recorded_coupons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    coupon: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

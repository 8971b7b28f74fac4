"""Shared set-up of the journey tests: a store with customers, a context, and a scheduler driven by a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.journeys import RecordOnlyCouponIssuer, service
from siyu.domains.journeys.engine import Context
from siyu.domains.journeys.models import Enrolment
from siyu.domains.journeys.tasks import Tick, tick
from siyu.domains.outbox.models import OutboxMessage
from siyu.kit.crypto import PiiVault


def context(settings: Settings, after_effect: Callable[..., None] | None = None) -> Context:
    """Return a scheduler context for the test settings."""
    return Context(tz=settings.tz, vault=PiiVault(settings.effective_secret_key), coupons=RecordOnlyCouponIssuer(),
                   after_effect=after_effect, settings=settings)


def run(engine: Engine, ctx: Context, now: datetime) -> Tick:
    """Tick the scheduler once at ``now``."""
    return tick(lambda: unit_of_work(engine), ctx, now)


def start(engine: Engine, name: str, definition: dict[str, Any], now: datetime,
          customers: list[int] | None = None) -> int:
    """Create and publish a journey (enrolling ``customers`` by hand); return its id."""
    with unit_of_work(engine) as s:
        journey = service.create_journey(s, name=name, definition=definition, actor="test")
        service.publish(s, journey.id, actor="test", now=now)
        if customers:
            service.enrol_customers(s, journey.id, customers, actor="test", now=now)
        return journey.id


def enrolments(engine: Engine, journey_id: int) -> dict[int, Enrolment]:
    """Return {customer_id: latest enrolment} of a journey."""
    with unit_of_work(engine, write=False) as s:
        rows = s.scalars(select(Enrolment).where(Enrolment.journey_id == journey_id).order_by(Enrolment.id)).all()
        s.expunge_all()
        return {e.customer_id: e for e in rows}


def enrolments_all(engine: Engine, journey_id: int) -> list[Enrolment]:
    """Return every enrolment of a journey, oldest first."""
    with unit_of_work(engine, write=False) as s:
        rows = s.scalars(select(Enrolment).where(Enrolment.journey_id == journey_id).order_by(Enrolment.id)).all()
        s.expunge_all()
        return list(rows)


def outbox(engine: Engine) -> list[tuple[str, int | None, str]]:
    """Return (idempotency_key, customer_id, channel) of every outbox message, oldest first."""
    with unit_of_work(engine, write=False) as s:
        return [tuple(r) for r in s.execute(select(OutboxMessage.idempotency_key, OutboxMessage.customer_id,
                                                   OutboxMessage.channel).order_by(OutboxMessage.id))]

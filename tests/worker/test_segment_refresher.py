"""The segments' scheduled refresh: full first and when due, incremental after facts, skipped while another holds the lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_customer, make_event, make_identity
from sqlalchemy import Engine, select

from siyu.analytics import lease
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.segments import service
from siyu.domains.segments.models import SegmentMembership
from siyu.domains.tags.models import CustomerTag, Tag
from siyu.kit import logs
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow
from siyu.worker.segments import LEASE, SegmentRefresher


@pytest.fixture(autouse=True)
def _logs_to_this_tests_stderr() -> None:
    """Log to the current stderr: an earlier CLI test may have left logging bound to its closed output."""
    logs.configure("INFO")


def _members(engine: Engine) -> set[int]:
    with unit_of_work(engine, write=False) as s:
        return set(s.scalars(select(SegmentMembership.customer_id).where(SegmentMembership.exited_at.is_(None))))


def test_turns_full_then_incremental_then_nothing(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        first = make_customer(s, vault)
        make_event(s, make_identity(s, vault, first.id, "unionid", "u1"), "content_viewed", occurred_at=utcnow(),
                   properties={"topic": "新品"})
        other = make_customer(s, vault)
        ident = make_identity(s, vault, other.id, "unionid", "u2")
        service.create_segment(s, name="viewers", rule={"event": "content_viewed", "window": {"last_days": 7}},
                               actor="t", tz=settings.tz)
    refresher = SegmentRefresher(db_engine, settings, interval=1)
    outcome = refresher.run_once()
    assert outcome is not None and outcome.full  # never refreshed in full: every customer
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalar(select(Tag.name).join(CustomerTag, CustomerTag.tag_id == Tag.id)
                        .where(CustomerTag.customer_id == first.id)) == "兴趣:新品"
    assert refresher.run_once() is None  # nothing new, full not due
    with unit_of_work(db_engine) as s:
        make_event(s, s.get(type(ident), ident.id), "content_viewed", occurred_at=utcnow())
    outcome = refresher.run_once()
    assert outcome is not None and not outcome.full and outcome.changed == [other.id]
    assert _members(db_engine) == {first.id, other.id}
    assert refresher.full_due(utcnow() - timedelta(hours=2), utcnow())


def test_skips_while_another_process_refreshes(db_engine: Engine, settings: Settings) -> None:
    with unit_of_work(db_engine) as s:
        assert lease.acquire(s, LEASE, "someone-else", timedelta(minutes=5), utcnow())
    assert SegmentRefresher(db_engine, settings, interval=1).run_once() is None

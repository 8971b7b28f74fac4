"""The scores' scheduled write-back: due when no run started within the interval, one process at a time."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from analytics.test_rfm import _orders
from siyu.analytics import lease
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.ingest import service as ingest
from siyu.domains.scores import CustomerScore, ScoreRun
from siyu.kit import logs
from siyu.kit.time import utcnow
from siyu.worker.scores import LEASE, ScoreSchedule, score_schedule


@pytest.fixture(autouse=True)
def _logs_to_this_stderr() -> None:
    """Log to the stderr of this test: a CLI test run before may have left structlog writing to its closed one."""
    logs.configure("INFO")


def _brand(engine: Engine, settings: Any) -> None:
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(engine) as s:
        assert not ingest.ingest_orders(s, ctx, [o for o in _orders(random.Random(3), 120) if o["status"] == "paid"]).rejected


def test_a_turn_writes_when_due_and_skips_until_the_interval_passed(db_engine: Engine, settings: Settings) -> None:
    _brand(db_engine, settings)
    schedule = ScoreSchedule(db_engine, settings.data_dir, settings.tz, every=3600)
    first = schedule.run_once()
    assert first is not None and first.written > 0
    assert schedule.run_once() is None  # a run started less than an hour ago
    with unit_of_work(db_engine, write=False) as s:
        run = s.scalar(select(ScoreRun))
        assert run is not None and run.trigger == "schedule" and run.status == "ok"
        assert run.as_of == utcnow().astimezone(settings.tz).date()  # as of today in the brand's zone
        assert s.scalar(select(func.count()).select_from(CustomerScore)) == first.written
    assert schedule.due(utcnow() + timedelta(seconds=3601))


def test_a_turn_skips_while_another_process_holds_the_lease(db_engine: Engine, settings: Settings) -> None:
    _brand(db_engine, settings)
    with unit_of_work(db_engine) as s:
        assert lease.acquire(s, LEASE, "another-host:1", timedelta(minutes=30), utcnow())
    assert ScoreSchedule(db_engine, settings.data_dir, settings.tz, every=60).run_once() is None
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalar(select(ScoreRun.id)) is None


def test_zero_seconds_turns_the_schedule_off(db_engine: Engine, settings: Settings) -> None:
    assert score_schedule(db_engine, settings.model_copy(update={"scores_refresh_seconds": 0})) is None
    assert score_schedule(db_engine, settings) is not None

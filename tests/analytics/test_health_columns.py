"""The column-wise full rebuild stores exactly what the per-customer refresh stores.

``siyu demo`` and ``siyu analytics refresh --full`` compute every contribution column-wise
(:mod:`siyu.analytics.columnar`); an incremental refresh builds one Contribution per customer
(:mod:`siyu.analytics.contributions`). Both must give the same rows in every summary table, in zones
whose offset changes in the middle of an hour too, so the pure parts (brand days of instants, moves in
and out of the private domain) are checked against their per-customer definitions on random input.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Engine, select

from analytics.generated import batch

from siyu.analytics import columnar, contributions, fact_columns
from siyu.analytics import refresh as summaries
from siyu.analytics.fact_columns import NONE
from siyu.analytics.models import HealthCustomer, HealthDaily, HealthMove, HealthSpan, HealthState
from siyu.analytics.summaries import hour_day
from siyu.db.engine import unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.identity import Merge
from siyu.domains.identity import service as identity
from siyu.domains.ingest import service as ingest
from siyu.domains.staff import service as staff
from siyu.kit.time import UTC, local_day

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# St John's moves from -3:30 to -2:30 on 8 March 2026 at 05:30 UTC (inside the generated brand's days);
# Lord Howe shifts by half an hour; Kathmandu is +5:45 all year; Tehran went from +4:30 back to +3:30 at
# local midnight on 22 September 2021 (19:30 UTC): in that UTC hour the brand day depends on the minute
ZONES = ["Asia/Shanghai", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kathmandu", "Europe/London", "Asia/Tehran"]


def _micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


@pytest.mark.parametrize("zone", ZONES)
def test_brand_days_of_instants_match_local_day(zone: str) -> None:
    tz, rng = ZoneInfo(zone), random.Random(zone)
    transitions = [datetime(2021, 9, 21, 19, 30, tzinfo=UTC), datetime(2026, 3, 8, 5, 30, tzinfo=UTC), datetime(2026, 4, 4, 15, tzinfo=UTC),
                   datetime(2026, 10, 25, 1, tzinfo=UTC), datetime(2026, 11, 1, 4, 30, tzinfo=UTC)]
    instants = [t + timedelta(microseconds=rng.randrange(-7_200_000_000, 7_200_000_000))
                for t in transitions for _ in range(300)]
    instants += [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(3 * 365 * 86400))
                 for _ in range(2000)]
    instants += [t + timedelta(microseconds=d) for t in transitions for d in (-1, 0, 1)]
    micros = np.array([_micros(t) for t in instants], dtype=np.int64)
    assert columnar.day_ordinals(micros, tz).tolist() == [local_day(t, tz).toordinal() for t in instants]
    hours = [t.replace(minute=0, second=0, microsecond=0) for t in instants]
    assert columnar.day_ordinals(micros, tz, hour=True).tolist() == [hour_day(h, tz).toordinal() for h in hours]
    sparse = np.array([_micros(datetime(1990, 5, 1, tzinfo=UTC)), _micros(datetime(2026, 3, 8, 5, 45, tzinfo=UTC))])
    assert columnar.day_ordinals(sparse, tz).tolist() == [local_day(datetime(1990, 5, 1, tzinfo=UTC), tz).toordinal(),
                                                          local_day(datetime(2026, 3, 8, 5, 45, tzinfo=UTC), tz).toordinal()]


def test_moves_match_the_per_customer_definition() -> None:
    """Meeting, overlapping, open, empty and reversed connections: entries and losses as contributions.moves gives."""
    rng = random.Random(3)
    base = datetime(2026, 3, 1, tzinfo=UTC)
    intervals: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for customer in range(1, 400):
        points = [base + timedelta(hours=rng.randrange(60)) for _ in range(rng.randrange(1, 6))]
        intervals[customer] = [(a, None if rng.random() < 0.2 else rng.choice(points + [a - timedelta(hours=1)]))
                               for a in points]
    rows = [(c, a, b) for c, spans in intervals.items() for a, b in spans]
    rng.shuffle(rows)
    who, at, step = columnar.moves(np.array([c for c, _a, _b in rows], dtype=np.int64),
                                   np.array([_micros(a) for _c, a, _b in rows], dtype=np.int64),
                                   np.array([NONE if b is None else _micros(b) for _c, _a, b in rows], dtype=np.int64))
    got = list(zip(who.tolist(), at.tolist(), step.tolist(), strict=True))
    expected = [(c, _micros(t), s) for c in sorted(intervals) for t, s in contributions.moves(intervals[c])]
    assert got == expected


def _tables(engine: Engine) -> tuple[Any, ...]:
    with unit_of_work(engine, write=False) as s:
        sums = tuple(sorted(tuple(r) for r in s.execute(select(*t.__table__.columns)) if r[-1])  # zeros left by take-backs
                     for t in (HealthDaily, HealthSpan, HealthState))
        rows = tuple(tuple(sorted(tuple(r) for r in s.execute(select(*t.__table__.columns))))
                     for t in (HealthCustomer, HealthMove))
        return (*sums, *rows)


@pytest.mark.parametrize("zone", ["America/St_Johns"])
def test_rebuild_stores_what_the_incremental_refresh_stores(db_engine: Engine, settings, zone: str) -> None:
    """Batches refreshed one by one (per customer), a departure, an unmerge, then a full rebuild (column-wise)."""
    rng, tz = random.Random(11), ZoneInfo(zone)
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(db_engine) as s:
        summaries.rebuild(s, tz)  # an empty store
    assert _tables(db_engine)[3:] == ((), ())
    for step in range(3):
        events, orders = batch(rng, 80, step)
        with unit_of_work(db_engine) as s:
            ingest.ingest_events(s, ctx, events)
            ingest.ingest_orders(s, ctx, orders)
            if step == 1:  # s0 leaves without an heir: their customers are lost
                staff.depart_staff(s, staff.staff_by_userid(s, "s0").id, inherit_to=None, actor="test",
                                   at=datetime(2026, 3, 8, 5, 40, tzinfo=UTC))
        with unit_of_work(db_engine) as s:
            summaries.refresh(s, tz)
    with unit_of_work(db_engine) as s:
        merge = s.scalars(select(Merge).order_by(Merge.id)).first()
        assert merge is not None
        identity.undo_merge(s, merge.id, actor="test", reason="two people")
    with unit_of_work(db_engine) as s:
        summaries.refresh(s, tz)
    incremental = _tables(db_engine)
    assert all(incremental), "every summary table has rows"
    with unit_of_work(db_engine) as s:
        result = summaries.rebuild(s, tz)
        assert result.customers == len(s.scalars(select(Customer.id)).all())
    assert _tables(db_engine) == incremental


def test_fact_columns_keep_platforms_and_times_exact(db_engine: Engine) -> None:
    """Platforms holding the separators, empty or missing, and times to the microsecond read back as stored."""
    at = datetime(2026, 3, 8, 5, 30, 0, 123456, tzinfo=UTC)
    platforms = [None, "", "a,b", "x\x1fy", "wecom", None]
    with unit_of_work(db_engine) as s:
        s.add_all([Customer(gender="unknown", attributes={}, source_platform=p, first_seen_at=at + timedelta(microseconds=i),
                            created_at=at, updated_at=at) for i, p in enumerate(platforms)])
    with unit_of_work(db_engine, write=False) as s:
        facts = fact_columns.read(s)
        stored = s.execute(select(Customer.id, Customer.source_platform, Customer.first_seen_at).order_by(Customer.id)).all()
    assert facts.customers.tolist() == [r[0] for r in stored]
    assert facts.platforms == [r[1] for r in stored] == platforms
    assert facts.first_seen.tolist() == [_micros(r[2]) for r in stored] == [_micros(at) + i for i in range(len(stored))]
    assert facts.live.tolist() == [True] * len(platforms)


def test_a_store_of_one_open_relation_rebuilds_as_recomputed_per_customer(db_engine: Engine, settings) -> None:
    """One row whose end time is missing (SQLite's group_concat gives '' for it, not no rows)."""
    ctx, tz = ingest.IngestContext.from_settings(settings), ZoneInfo("Asia/Shanghai")
    with unit_of_work(db_engine) as s:
        accepted = ingest.ingest_events(s, ctx, [{"event_id": "e1", "type": "contact_added", "occurred_at": "2026-03-01T10:00:00+08:00",
                                       "identities": {"external_userid": "wmBackground1"}, "properties": {"staff_userid": "alice"}}])
        assert accepted.accepted == 1, accepted
    with unit_of_work(db_engine) as s:
        assert summaries.refresh(s, tz).full  # the first build is a rebuild
    rebuilt = _tables(db_engine)
    assert rebuilt[2] and rebuilt[3] and rebuilt[4], rebuilt  # followed now, the customer's row, the entry
    with unit_of_work(db_engine) as s:  # take every contribution back and add it again, per customer
        summaries._recompute_customers(s, tz, s.scalars(select(Customer.id)).all(), None)
    assert _tables(db_engine) == rebuilt


def test_a_rebuild_prepared_before_new_facts_reads_them_again(db_engine: Engine, settings) -> None:
    """``siyu demo`` prepares the rebuild beside its index build: facts written after it are not lost."""
    rng, tz = random.Random(5), ZoneInfo("Asia/Shanghai")
    ctx = ingest.IngestContext.from_settings(settings)
    for step in range(2):
        events, orders = batch(rng, 60, step)
        with unit_of_work(db_engine) as s:
            ingest.ingest_events(s, ctx, events)
            ingest.ingest_orders(s, ctx, orders)
        if step == 0:
            with unit_of_work(db_engine, write=False) as s:
                early = summaries.prepare_rebuild(s, tz, format_rows=True)
    with unit_of_work(db_engine, write=False) as s:
        current = summaries.prepare_rebuild(s, tz)
    with unit_of_work(db_engine) as s:
        summaries.rebuild(s, tz)
    fresh = _tables(db_engine)
    with unit_of_work(db_engine) as s:
        summaries.rebuild(s, tz, prepared=early)  # stale: read again
    assert _tables(db_engine) == fresh
    with unit_of_work(db_engine) as s:
        summaries.rebuild(s, tz, prepared=current)  # current: written as prepared
    assert _tables(db_engine) == fresh

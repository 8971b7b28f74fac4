"""Retention cohorts on every engine equal a plain recomputation from the facts."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from analytics.test_rfm import AS_OF, _local
from siyu.analytics import retention as R
from siyu.analytics.engines import open_facts
from siyu.db.engine import unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order
from siyu.kit.time import local_day


@pytest.fixture
def brand(db_engine: Engine, settings: Any) -> Engine:
    rng = random.Random(41)
    events, orders = [], []
    for p in range(250):
        ids = {"openid:wxmini": f"oRET{p:05d}"}
        if p % 11 == 0:
            ids["phone"] = f"1370000{p // 22:04d}"
        for n in range(rng.choice([1, 2, 3])):
            day = AS_OF - timedelta(days=rng.randrange(0, 120))
            hh, mm = rng.choice([(0, 0), (23, 59), (8, 0)])  # brand-day edges
            events.append({"event_id": f"v{p}-{n}", "type": rng.choice(["content_viewed", "content_clicked"]),
                           "occurred_at": _local(day, hh, mm), "identities": ids, "properties": {"content_id": "c"}})
        for n in range(rng.choice([0, 1, 2, 4])):
            day = AS_OF - timedelta(days=rng.randrange(0, 150))
            orders.append({"order_id": f"r{p}-{n}", "status": "paid", "occurred_at": _local(day, 23, 59, 59),
                           "amount": "5.00", "identities": ids})
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(db_engine) as s:
        assert not ingest.ingest_events(s, ctx, events).rejected
        assert not ingest.ingest_orders(s, ctx, orders).rejected
    return db_engine


def _reference(s: Any, params: R.RetentionParams, tz: Any) -> list[dict[str, Any]]:
    owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
    per = lambda d: R.period_number(d, params.unit)  # noqa: E731
    last = per(params.end)
    active: dict[int, set[int]] = defaultdict(set)
    first_order: dict[int, date] = {}
    for o in s.scalars(select(Order)):
        if o.paid_at is not None and local_day(o.paid_at, tz) <= params.end:
            cid, day = owner[o.identity_id], local_day(o.paid_at, tz)
            first_order[cid] = min(first_order.get(cid, day), day)
            if not params.activity:
                active[cid].add(per(day))
    if params.activity:
        for e in s.scalars(select(Event)):
            if e.type in params.activity and local_day(e.occurred_at, tz) <= params.end:
                active[owner[e.identity_id]].add(per(local_day(e.occurred_at, tz)))
    entries: list[tuple[int, int]] = []
    if params.mode == "recurring":
        entries = [(cid, p) for cid, ps in active.items() for p in ps]
    elif params.cohort_by == "first_order":
        entries = [(cid, per(d)) for cid, d in first_order.items()]
    else:
        entries = [(c.id, per(local_day(c.first_seen_at, tz))) for c in s.scalars(select(Customer))
                   if c.merged_into_id is None]
    lo = per(params.start)
    cohorts: dict[int, dict[str, Any]] = {}
    for cid, cohort in entries:
        if not lo <= cohort <= last:
            continue
        c = cohorts.setdefault(cohort, {"size": 0, "cells": defaultdict(int)})
        c["size"] += 1
        for k in range(params.periods + 1):
            if cohort + k in active[cid]:
                c["cells"][k] += 1
    return [{"cohort": R.period_start(c, params.unit), "size": v["size"],
             "retained": [v["cells"][k] for k in range(min(params.periods, last - c) + 1)]}
            for c, v in sorted(cohorts.items())]


CASES = [
    R.RetentionParams(AS_OF - timedelta(days=120), AS_OF, "month", 4),
    R.RetentionParams(AS_OF - timedelta(days=70), AS_OF, "week", 8),
    R.RetentionParams(AS_OF - timedelta(days=60), AS_OF, "day", 45, activity=("content_viewed", "content_clicked"),
                      cohort_by="joined"),
    R.RetentionParams(AS_OF - timedelta(days=60), AS_OF - timedelta(days=10), "week", 6, mode="recurring"),
    R.RetentionParams(AS_OF - timedelta(days=90), AS_OF, "month", 3, cohort_by="joined"),
]


@pytest.mark.parametrize("params", CASES, ids=["month-first-order", "week", "day-joined-views", "recurring", "joined-orders"])
def test_cohorts_equal_the_reference(brand: Engine, settings: Any, tmp_path: Path, params: R.RetentionParams) -> None:
    facts = open_facts(brand, tmp_path)
    try:
        got = R.compute(facts, params, settings.tz).cohorts
    finally:
        facts.close()
    with unit_of_work(brand, write=False) as s:
        expected = _reference(s, params, settings.tz)
    assert got == expected
    assert expected and any(sum(c["retained"][1:]) for c in expected)  # someone comes back


def test_periods_are_brand_calendar_periods() -> None:
    assert R.period_start(R.period_number(date(2026, 11, 23), "week"), "week") == date(2026, 11, 23)  # a Monday
    assert R.period_start(R.period_number(date(2026, 11, 29), "week"), "week") == date(2026, 11, 23)
    assert R.period_start(R.period_number(date(2026, 2, 28), "month"), "month") == date(2026, 2, 1)


@pytest.mark.parametrize("change, message", [
    ({"end": date.today() + timedelta(days=3)}, "in the future"),
    ({"start": AS_OF + timedelta(days=1)}, "is after end"),
    ({"periods": 0}, "periods must be"),
    ({"unit": "year"}, "unit must be"),
    ({"mode": "recurring", "cohort_by": "joined"}, "recurring retention"),
])
def test_bad_parameters_say_what_to_fix(change: dict[str, Any], message: str) -> None:
    params = R.RetentionParams(**{"start": AS_OF - timedelta(days=30), "end": AS_OF, **change})
    with pytest.raises(R.InvalidRetention, match=message):
        params.check(date.today())

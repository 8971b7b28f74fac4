"""Daily summaries give the dashboard's figures exactly: checked against a plain recomputation from the facts.

Generated brand: people who share phones (so ingestion merges them), contacts added and deleted, group
joins and leaves, orders paid and refunded in part, all at times around midnight in Asia/Shanghai. The
summaries are refreshed after every batch (incremental), after an operator's unmerge, and rebuilt in
full; every figure of many periods must equal the reference.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from siyu.analytics import health
from siyu.analytics import refresh as summaries
from siyu.analytics.models import HealthCustomer, HealthDaily, HealthSpan, HealthState
from siyu.db.engine import unit_of_work
from siyu.domains.ingest import service as ingest
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.groups.models import GroupMembership
from siyu.domains.identity import Identity, Merge
from siyu.domains.identity import service as identity
from siyu.domains.orders.models import Order
from siyu.domains.staff.models import Ownership
from siyu.errors import Conflict
from siyu.kit.time import UTC, day_bounds_utc, local_day

FIRST = date(2026, 3, 1)
DAYS = 12


def _at(rng: random.Random) -> datetime:
    """A time near a Shanghai midnight (16:00 UTC) on one of the days, or anywhere in a day."""
    day = datetime(2026, 2, 28, 16, tzinfo=UTC) + timedelta(days=rng.randrange(DAYS))
    return day + timedelta(minutes=rng.choice([rng.randrange(-90, 90), rng.randrange(0, 1440)]))


def _ids(rng: random.Random, person: int) -> dict[str, str]:
    phone = f"139{27450000 + (person % 20) * 1373:08d}"
    roll = rng.random()
    if roll < 0.2:  # a phone alone: a customer of its own until the phone is seen with a unionid (merge)
        return {"phone": phone}
    uid = f"oUnion{person:022d}"
    return {"unionid": uid, "phone": phone} if roll < 0.4 else {"unionid": uid}


def _batch(rng: random.Random, n: int, step: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events, orders = [], []
    for k in range(n):
        person, at = rng.randrange(30), _at(rng)
        kind = rng.choice(["page_viewed", "page_viewed", "contact_added", "contact_deleted_by_customer",
                           "contact_deleted_by_staff", "group_joined", "group_left", "order"])
        ids = _ids(rng, person)
        if kind == "order":
            oid = f"o{step}-{k}"
            orders.append({"order_id": oid, "status": "created", "occurred_at": at.isoformat(), "amount": "100.00",
                           "identities": ids})
            if rng.random() < 0.8:
                orders.append({"order_id": oid, "status": "paid", "occurred_at": (at + timedelta(minutes=5)).isoformat(),
                               "amount": "100.00"})
                if rng.random() < 0.3:
                    orders.append({"order_id": oid, "status": "refunded", "refund_id": "r1", "refund_amount": "30.00",
                                   "occurred_at": (at + timedelta(days=2)).isoformat(), "amount": "100.00"})
            continue
        props: dict[str, Any] = {}
        if kind.startswith("contact"):
            props["staff_userid"] = f"s{rng.randrange(3)}"
        if kind.startswith("group"):
            props["chat_id"] = f"g{rng.randrange(3)}"
        events.append({"event_id": f"e{step}-{k}", "type": kind, "occurred_at": at.isoformat(), "identities": ids,
                       "properties": props})
    return events, orders


def _reference(s: Any, first: date, last: date, tz: Any) -> dict[str, Any]:
    """Recompute the period's figures plainly from the facts (the definitions of analytics/health.py)."""
    start, end = day_bounds_utc(first, tz)[0], day_bounds_utc(last, tz)[1]
    owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
    live = {c.id for c in s.scalars(select(Customer)) if c.merged_into_id is None}
    inside = lambda t: t is not None and start <= t < end  # noqa: E731
    rels = s.scalars(select(Ownership)).all()
    stays = s.scalars(select(GroupMembership)).all()
    paid = [o for o in s.scalars(select(Order)) if o.paid_at is not None and inside(o.placed_at)]
    per = Counter(owner[o.identity_id] for o in paid)
    new = [r for r in rels if inside(r.added_at) and r.source != "transfer"]
    lost = [r for r in rels if inside(r.removed_at) and r.removed_by == "customer"]
    daily: dict[str, Counter[date]] = defaultdict(Counter)
    for r in new:
        daily["new"][local_day(r.added_at, tz)] += 1
    for r in lost:
        daily["lost"][local_day(r.removed_at, tz)] += 1
    for o in paid:
        daily["gmv"][local_day(o.placed_at, tz)] += o.amount_fen - o.refunded_fen
    platforms = Counter(c.source_platform for c in s.scalars(select(Customer))
                        if c.id in live and inside(c.first_seen_at))
    staff: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in new:
        staff[r.staff_id][0] += 1
    for r in lost:
        staff[r.staff_id][1] += 1
    groups: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for g in stays:
        groups[g.group_id][0] += inside(g.joined_at)
        groups[g.group_id][1] += inside(g.left_at)
    return {
        "private": len({owner[r.identity_id] for r in rels if r.removed_at is None} & live),
        "new": len(new), "lost": len(lost),
        "joins": sum(inside(g.joined_at) for g in stays), "leaves": sum(inside(g.left_at) for g in stays),
        "active": len({owner[e.identity_id] for e in s.scalars(select(Event)) if inside(e.occurred_at)}),
        "paid_orders": len(paid), "gmv": sum(o.amount_fen - o.refunded_fen for o in paid),
        "paying": len(per), "repurchasers": sum(1 for n in per.values() if n >= 2),
        "by_code": Counter(r.channel_code_id for r in new), "by_platform": +platforms,
        "staff": {k: tuple(v) for k, v in staff.items() if any(v)},
        "groups": {k: tuple(v) for k, v in groups.items() if any(v)},
        "daily": {k: +v for k, v in daily.items()},
    }


def _figures(s: Any, first: date, last: date, tz: Any) -> dict[str, Any]:
    period = health.Period(first, last, day_bounds_utc(first, tz)[0], day_bounds_utc(last, tz)[1])
    t = health.period_totals(s, period, tz)
    return {
        "private": health.private_customers(s), "new": t.new_contacts, "lost": t.lost_contacts,
        "joins": t.group_joins, "leaves": t.group_leaves, "active": t.active_customers,
        "paid_orders": t.paid_orders, "gmv": t.gmv_fen, "paying": t.paying_customers, "repurchasers": t.repurchasers,
        "by_code": Counter(dict(health.new_by_channel_code(s, period))),
        "by_platform": Counter(dict(health.new_by_platform(s, period))),
        "staff": health.staff_flow(s, period), "groups": health.group_flow(s, period),
        "daily": {k: +t.daily[k] for k in ("new", "lost", "gmv") if +t.daily[k]},
    }


PERIODS = [(FIRST + timedelta(days=a), FIRST + timedelta(days=b))
           for a, b in [(0, 0), (0, 11), (1, 3), (3, 9), (5, 5), (-3, 2), (10, 14), (2, 2), (4, 11)]]


def _check(engine: Engine, tz: Any) -> None:
    with unit_of_work(engine, write=False) as s:
        assert not summaries.is_stale(s)
        for first, last in PERIODS:
            assert _figures(s, first, last, tz) == _reference(s, first, last, tz), (first, last)


def _tables(engine: Engine) -> tuple[Any, ...]:
    with unit_of_work(engine, write=False) as s:
        sums = tuple(sorted(tuple(r) for r in s.execute(select(*t.__table__.columns)) if r[-1])
                     for t in (HealthDaily, HealthSpan, HealthState))
        return (*sums, tuple(sorted(tuple(r) for r in s.execute(select(*HealthCustomer.__table__.columns)))))


def test_summaries_match_the_facts_through_batches_merges_and_unmerges(db_engine: Engine, settings) -> None:
    rng, tz = random.Random(7), settings.tz
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(db_engine) as s:
        summaries.rebuild(s, tz)  # an empty store
    for step in range(4):
        events, orders = _batch(rng, 60, step)
        with unit_of_work(db_engine) as s:
            ingest.ingest_events(s, ctx, events)
            ingest.ingest_orders(s, ctx, orders)
        with unit_of_work(db_engine) as s:
            summaries.refresh(s, tz)
        _check(db_engine, tz)
    with unit_of_work(db_engine) as s:
        merge = s.scalars(select(Merge).order_by(Merge.id)).first()
        assert merge is not None  # the generated brand merges people
        identity.undo_merge(s, merge.id, actor="test", reason="two people")
    with unit_of_work(db_engine) as s:
        assert summaries.is_stale(s)
        summaries.refresh(s, tz)
    _check(db_engine, tz)
    incremental = _tables(db_engine)
    with unit_of_work(db_engine) as s:
        summaries.rebuild(s, tz)
    assert _tables(db_engine) == incremental


def test_a_refresh_with_nothing_new_changes_nothing(db_engine: Engine, settings) -> None:
    with unit_of_work(db_engine) as s:
        assert summaries.refresh(s, settings.tz).full  # the first refresh builds
    with unit_of_work(db_engine) as s:
        assert summaries.refresh(s, settings.tz) == summaries.RefreshResult(0, 0, False)


def test_a_large_store_never_built_is_told_to_run_the_command(db_engine: Engine, settings, monkeypatch) -> None:
    """A first build inside a dashboard request would take minutes on a large upgraded store: refuse with the
    command to run instead; a store within the limit (or already built) is refreshed in the request."""
    with unit_of_work(db_engine) as s:
        s.add_all([Customer(gender="unknown", attributes={}, first_seen_at=datetime(2026, 1, 1, tzinfo=UTC),
                            created_at=datetime(2026, 1, 1, tzinfo=UTC), updated_at=datetime(2026, 1, 1, tzinfo=UTC))
                   for _ in range(3)])
    monkeypatch.setattr(summaries, "FIRST_BUILD_IN_REQUEST_MAX", 2)
    with unit_of_work(db_engine, write=False) as s, pytest.raises(Conflict) as refused:
        summaries.refresh_if_stale(s, settings.tz)
    assert refused.value.code == "summaries_not_built" and "siyu analytics refresh --full" in refused.value.message
    monkeypatch.setattr(summaries, "FIRST_BUILD_IN_REQUEST_MAX", 3)
    with unit_of_work(db_engine, write=False) as s:
        summaries.refresh_if_stale(s, settings.tz)
    with unit_of_work(db_engine, write=False) as s:
        assert not summaries.is_stale(s)

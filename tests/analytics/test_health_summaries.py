"""Daily summaries give the dashboard's figures exactly: checked against a plain recomputation from the facts.

Generated brand: people who share phones (so ingestion merges them), contacts added and deleted, group
joins and leaves, orders paid and refunded in part, all at times around midnight in Asia/Shanghai. The
summaries are refreshed after every batch (incremental), after a departure whose customers a colleague
inherits, after an operator's unmerge, and rebuilt in full; every figure of many periods must equal the
reference, which applies the definitions of analytics/health.py to the facts directly.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from analytics.generated import FIRST, batch, connections, covers, moves

from siyu.analytics import health
from siyu.analytics import refresh as summaries
from siyu.analytics.models import HealthCustomer, HealthDaily, HealthMove, HealthSpan, HealthState
from siyu.db.engine import unit_of_work
from siyu.domains.ingest import service as ingest
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.groups.models import GroupMembership
from siyu.domains.identity import Identity, Merge
from siyu.domains.identity import service as identity
from siyu.domains.orders.models import Order
from siyu.domains.staff import service as staff
from siyu.domains.staff.models import Ownership
from siyu.errors import Conflict
from siyu.kit.time import UTC, day_bounds_utc, local_day

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
    conns = connections(s, owner)
    moved = moves(conns, inside)

    def people(rows: list[Any], key: Any = None) -> Any:
        if key is None:
            return len({owner[r.identity_id] for r in rows} & live)
        out: dict[Any, set[int]] = defaultdict(set)
        for r in rows:
            if owner[r.identity_id] in live:
                out[key(r)].add(owner[r.identity_id])
        return {k: len(v) for k, v in out.items()}

    def per_day(rows: list[Any], at: Any) -> Counter[date]:
        days: dict[date, set[int]] = defaultdict(set)
        for r in rows:
            days[local_day(at(r), tz)].add(owner[r.identity_id])
        return Counter({d: len(c & live) for d, c in days.items() if c & live})

    joins = [g for g in stays if inside(g.joined_at)]
    leaves = [g for g in stays if inside(g.left_at)]
    staff_new, staff_lost = people(new, lambda r: r.staff_id), people(lost, lambda r: r.staff_id)
    group_in, group_out = people(joins, lambda g: g.group_id), people(leaves, lambda g: g.group_id)
    platforms = Counter(c.source_platform for c in s.scalars(select(Customer))
                        if c.id in live and inside(c.first_seen_at))
    followed: dict[int, set[int]] = defaultdict(set)
    for r in rels:
        if r.removed_at is None:
            followed[r.staff_id].add(owner[r.identity_id])
    members: dict[int, set[int]] = defaultdict(set)
    for g in stays:
        if g.left_at is None:
            members[g.group_id].add(owner[g.identity_id])
    gmv: Counter[date] = Counter()
    for o in paid:
        gmv[local_day(o.placed_at, tz)] += o.amount_fen - o.refunded_fen
    return {
        "private": sum(1 for cid, spans in conns.items() if cid in live and covers(spans, end, before=True)),
        "entered": len(moved["entered"] & live), "lost": len(moved["lost"] & live),
        "added": people(new), "deleted": people(lost), "joined": people(joins), "left": people(leaves),
        "active": len({owner[e.identity_id] for e in s.scalars(select(Event)) if inside(e.occurred_at)} & live),
        "paid_orders": len(paid), "gmv": sum(o.amount_fen - o.refunded_fen for o in paid),
        "paying": len(set(per) & live), "repurchasers": sum(1 for c, n in per.items() if n >= 2 and c in live),
        "by_code": Counter(people(new, lambda r: r.channel_code_id)), "by_platform": +platforms,
        "staff": {k: (staff_new.get(k, 0), staff_lost.get(k, 0)) for k in set(staff_new) | set(staff_lost)},
        "groups": {k: (group_in.get(k, 0), group_out.get(k, 0)) for k in set(group_in) | set(group_out)},
        "followed": {k: len(v & live) for k, v in followed.items() if v & live},
        "members": {k: len(v & live) for k, v in members.items() if v & live},
        "daily": {"added": per_day(new, lambda r: r.added_at), "deleted": per_day(lost, lambda r: r.removed_at),
                  "joined": per_day(joins, lambda g: g.joined_at), "left": per_day(leaves, lambda g: g.left_at),
                  "gmv": +gmv},
    }


def _figures(s: Any, first: date, last: date, tz: Any) -> dict[str, Any]:
    period = health.Period(first, last, day_bounds_utc(first, tz)[0], day_bounds_utc(last, tz)[1])
    t = health.period_totals(s, period)
    return {
        "private": t.private_end, "entered": t.entered, "lost": t.lost, "added": t.added, "deleted": t.deleted,
        "joined": t.joined, "left": t.left, "active": t.active, "paid_orders": t.paid_orders, "gmv": t.gmv_fen,
        "paying": t.paying, "repurchasers": t.repurchasers,
        "by_code": Counter(dict(health.added_by_channel_code(s, period))),
        "by_platform": Counter(dict(health.new_by_platform(s, period))),
        "staff": health.staff_flow(s, period), "groups": health.group_flow(s, period),
        "followed": health.followed_now(s), "members": health.members_now(s),
        "daily": {k: +t.daily[k] for k in ("added", "deleted", "joined", "left", "gmv")},
    }


PERIODS = [(FIRST + timedelta(days=a), FIRST + timedelta(days=b))
           for a, b in [(0, 0), (0, 11), (1, 3), (3, 9), (5, 5), (-3, 2), (10, 14), (2, 2), (4, 11)]]


def _check(engine: Engine, tz: Any) -> None:
    """Every period's figures equal the reference, with pairs counted directly and from day sums."""
    with unit_of_work(engine, write=False) as s, pytest.MonkeyPatch.context() as patch:
        assert not summaries.is_stale(s)
        for long_from in (health.LONG_PERIOD_DAYS, 1):  # 1: every period counts its pairs as a long one
            patch.setattr(health, "LONG_PERIOD_DAYS", long_from)
            for first, last in PERIODS:
                assert _figures(s, first, last, tz) == _reference(s, first, last, tz), (first, last, long_from)


def _tables(engine: Engine) -> tuple[Any, ...]:
    with unit_of_work(engine, write=False) as s:
        sums = tuple(sorted(tuple(r) for r in s.execute(select(*t.__table__.columns)) if r[-1])
                     for t in (HealthDaily, HealthSpan, HealthState))
        rows = tuple(tuple(sorted(tuple(r) for r in s.execute(select(*t.__table__.columns))))
                     for t in (HealthCustomer, HealthMove))
        return (*sums, *rows)


def test_summaries_match_the_facts_through_batches_merges_and_unmerges(db_engine: Engine, settings) -> None:
    rng, tz = random.Random(7), settings.tz
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(db_engine) as s:
        summaries.rebuild(s, tz)  # an empty store
    for step in range(4):
        events, orders = batch(rng, 60, step)
        with unit_of_work(db_engine) as s:
            ingest.ingest_events(s, ctx, events)
            ingest.ingest_orders(s, ctx, orders)
            if step == 2:  # s0 leaves and s1 inherits: relations meet at the instant, nobody is lost
                s0, s1 = (staff.staff_by_userid(s, u).id for u in ("s0", "s1"))
                staff.depart_staff(s, s0, inherit_to=s1, actor="test", at=datetime(2026, 3, 6, 16, tzinfo=UTC))
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
        assert summaries.rebuild(s, tz).customers == len(s.scalars(select(Customer.id)).all())
    assert _tables(db_engine) == incremental  # the column-wise rebuild stores what the per-customer refresh did


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

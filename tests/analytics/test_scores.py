"""The scores write-back equals plain references on every engine: RFM, lifecycle, AIPL, CLV, churn and intent.

The brand: test_rfm's buyers (merged customers through shared phones, refunds in part and in full
before and after the as-of day, equal values, times at Shanghai midnights), plus interest events and
contacts added to two staff members around the intent window's edges, unpaid, cancelled and later-paid
orders. Every expected value below is recomputed from the ORM rows with the documented definitions;
the CLV models are fitted on the reference's own summaries (analytics/clv is tested against
published estimates and ``lifetimes`` on its own).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select, update

from analytics.test_aipl import _reference as aipl_reference
from analytics.test_lifecycle import _measures, _tier
from analytics.test_rfm import AS_OF, _local, _orders
from analytics.test_rfm import _reference as rfm_reference
from siyu.analytics import aipl, lifecycle, scores
from siyu.analytics.attention import INTENT_EVENTS, OPEN_ORDER_WEIGHT, AttentionParams
from siyu.analytics.clv import (collapse_identical_rows, fit_bgnbd, fit_gamma_gamma, probability_alive,
                                summarise_customers, value_arrays)
from siyu.analytics.rfm import RfmParams
from siyu.db.engine import unit_of_work
from siyu.domains.access.principal import CLI
from siyu.domains.customers import Customer
from siyu.domains.events.models import Event
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order, OrderFact
from siyu.domains.scores import CustomerScore, ScoreRun
from siyu.domains.scores import service as scores_service
from siyu.domains.staff.models import Ownership, Staff
from siyu.kit.time import UTC, local_day

NOW = datetime(2026, 11, 23, tzinfo=UTC)
PARAMS = AttentionParams()


def _extra_facts(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Interest signals, contacts with staff and orders that never became purchases, for the test_rfm buyers."""
    events, orders = [], []
    for p in range(0, 300, 2):
        ids = {"openid:wxmini": f"oRFM{p:05d}", "external_userid": f"wmRFM{p:05d}"}
        events.append({"event_id": f"add-{p}", "type": "contact_added", "occurred_at": _local(AS_OF - timedelta(days=400), 9),
                       "identities": ids, "properties": {"staff_userid": f"staff{p % 4 // 2}"}})
        for n in range(rng.choice([0, 1, 2, 3])):
            day = AS_OF - timedelta(days=rng.choice([0, 1, 3, 6, 7, 30]))  # 6: first day of the window, 7: before
            hh, mm, ss = rng.choice([(0, 0, 0), (23, 59, 59), (12, 0, 0)])
            events.append({"event_id": f"i{p}-{n}", "type": rng.choice([*INTENT_EVENTS, "content_viewed"]),
                           "occurred_at": _local(day, hh, mm, ss), "identities": ids, "properties": {"chat_id": "g1",
                                                                                                    "staff_userid": f"staff{p % 4 // 2}"}})
        if p % 6 == 0:  # placed in the window and never paid (open), or cancelled, or paid after the as-of day
            kind = rng.choice(["open", "cancelled", "paid_later", "open_old"])
            day = AS_OF - timedelta(days=2 if kind != "open_old" else 12)
            oid = f"U{p}"
            orders.append({"order_id": oid, "status": "created", "occurred_at": _local(day, 20), "amount": "88.00",
                           "identities": ids})
            if kind == "cancelled":
                orders.append({"order_id": oid, "status": "cancelled", "occurred_at": _local(day, 21), "amount": "88.00"})
            if kind == "paid_later":
                orders.append({"order_id": oid, "status": "paid", "occurred_at": _local(AS_OF + timedelta(days=1), 0),
                               "amount": "88.00"})
    for p in range(300, 312):  # weekly buyers gone silent 40-70 days ago: overdue, and P(alive) falling
        for k in range(10):
            day = AS_OF - timedelta(days=40 + 3 * (p - 300) + 7 * k)
            orders.append({"order_id": f"W{p}-{k}", "status": "paid", "occurred_at": _local(day, 23, 59, 59),
                           "amount": "120.00", "identities": {"openid:wxmini": f"oWEEK{p:05d}"}})
    return events, orders


@pytest.fixture
def brand(db_engine: Engine, settings: Any) -> Engine:
    ctx = ingest.IngestContext.from_settings(settings)
    orders = _orders(random.Random(11), 300)
    events, extra = _extra_facts(random.Random(12))
    with unit_of_work(db_engine) as s:
        assert not ingest.ingest_orders(s, ctx, [o for o in orders if o["status"] == "paid"]).rejected
    with unit_of_work(db_engine) as s:
        assert not ingest.ingest_orders(s, ctx, [o for o in orders if o["status"] != "paid"]).rejected
        assert not ingest.ingest_events(s, ctx, events).rejected
        assert not ingest.ingest_orders(s, ctx, [o for o in extra if "identities" in o]).rejected
    with unit_of_work(db_engine) as s:
        assert not ingest.ingest_orders(s, ctx, [o for o in extra if "identities" not in o]).rejected
    merges = [{"event_id": f"m{p}-{q}", "type": "content_viewed", "occurred_at": _local(AS_OF - timedelta(days=20), 9),
               "identities": {"openid:wxmini": f"oRFM{q:05d}", "phone": f"1371111{p:04d}"}}
              for p in range(1, 60, 4) for q in (p, p + 2)]  # two existing buyers now share a phone: merged
    for event in merges:
        with unit_of_work(db_engine) as s:
            assert not ingest.ingest_events(s, ctx, [event]).rejected
    return db_engine


def _purchases(s: Any, tz: Any, as_of: date, owner: dict[int, int]) -> dict[int, list[tuple[datetime, int]]]:
    refunds: dict[int, int] = defaultdict(int)
    for f in s.scalars(select(OrderFact).where(OrderFact.status == "refunded")):
        if local_day(f.occurred_at, tz) <= as_of:
            refunds[f.order_pk] += f.amount_fen
    out: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for o in s.scalars(select(Order)):
        if o.paid_at is not None and o.amount_fen - refunds[o.id] > 0:
            out[owner[o.identity_id]].append((o.paid_at, o.amount_fen - refunds[o.id]))
    return out


def _yuan(fen: float) -> Decimal:
    return (Decimal(repr(float(fen))) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _clv_reference(s: Any, tz: Any, owner: dict[int, int]) -> dict[int, dict[str, Any]]:
    now = summarise_customers(_purchases(s, tz, AS_OF, owner), AS_OF, now=NOW, tz=tz, time_unit="day")
    then_day = AS_OF - timedelta(days=PARAMS.compare_days)
    then = summarise_customers(_purchases(s, tz, then_day, owner), then_day, now=NOW, tz=tz, time_unit="day")
    ids = sorted(now)
    x, t_x, t, m = (np.array([getattr(now[c], k) for c in ids], float) for k in ("frequency", "recency", "age", "monetary"))
    (dx, dt_x, dt), w = collapse_identical_rows(x, t_x, t)
    bgnbd = fit_bgnbd(dx, dt_x, dt, w)
    (gx, gm), gw = collapse_identical_rows(x[x > 0], m[x > 0])
    gamma = fit_gamma_gamma(gx, gm, gw)
    v = value_arrays(bgnbd, gamma, x, t_x, t, m, time_unit="day")
    out = {}
    for i, cid in enumerate(ids):
        prev = then.get(cid)
        alive_prev = None if prev is None else float(probability_alive(bgnbd, [prev.frequency], [prev.recency], [prev.age])[0])
        out[cid] = {"x": int(x[i]), "t_x": t_x[i], "T": t[i], "purchases": v.expected_purchases[i],
                    "alive": v.probability_alive[i], "alive_prev": alive_prev, "spend_fen": v.expected_spend[i],
                    "clv_fen": v.clv[i]}
    return out | {"_population": gamma.population_mean}  # type: ignore[dict-item]


def _churn(c: dict[str, Any]) -> tuple[bool, bool, Decimal | None]:
    silent = c["T"] - c["t_x"]
    overdue = c["x"] >= PARAMS.min_repeats and silent > PARAMS.overdue_factor * (c["t_x"] / c["x"])
    drop = None if c["alive_prev"] is None else c["alive_prev"] - c["alive"]
    falling = drop is not None and drop >= PARAMS.min_drop
    stake = _yuan(max(drop or 0.0, 0.0) * c["clv_fen"]) if (falling or overdue) else None
    return falling, overdue, stake


def _intent(s: Any, tz: Any, owner: dict[int, int]) -> dict[int, dict[str, Any]]:
    first = AS_OF - timedelta(days=PARAMS.intent_days - 1)
    inside = lambda t: first <= local_day(t, tz) <= AS_OF  # noqa: E731
    days: dict[int, set[date]] = defaultdict(set)
    last: dict[int, datetime] = {}
    for e in s.scalars(select(Event).where(Event.type.in_(INTENT_EVENTS))):
        if inside(e.occurred_at):
            cid = owner[e.identity_id]
            days[cid].add(local_day(e.occurred_at, tz))
            last[cid] = max(last.get(cid, e.occurred_at), e.occurred_at)
    cancelled = {f.order_pk for f in s.scalars(select(OrderFact).where(OrderFact.status == "cancelled"))
                 if local_day(f.occurred_at, tz) <= AS_OF}
    open_orders: set[int] = set()
    paid: set[int] = set()
    for cid, purchases in _purchases(s, tz, AS_OF, owner).items():
        if any(inside(at) for at, _fen in purchases):
            paid.add(cid)
    for o in s.scalars(select(Order)):
        unpaid = o.paid_at is None or local_day(o.paid_at, tz) > AS_OF
        if inside(o.placed_at) and unpaid and o.id not in cancelled:
            cid = owner[o.identity_id]
            open_orders.add(cid)
            last[cid] = max(last.get(cid, o.placed_at), o.placed_at)
    return {cid: {"days": len(days[cid]), "open": cid in open_orders, "paid": cid in paid, "last": last[cid]}
            for cid in set(days) | open_orders}


@pytest.fixture
def written(brand: Engine, settings: Any, tmp_path: Path) -> scores.ScoresResult:
    return scores.write_back(brand, tmp_path, AS_OF, settings.tz, trigger="cli")


def test_write_back_equals_the_references(brand: Engine, settings: Any, written: scores.ScoresResult) -> None:
    tz = settings.tz
    with unit_of_work(brand, write=False) as s:
        rows = {r.customer_id: r for r in s.scalars(select(CustomerScore))}
        live = set(s.scalars(select(Customer.id).where(Customer.merged_into_id.is_(None))))
        merged = set(s.scalars(select(Customer.id).where(Customer.merged_into_id.is_not(None))))
        owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
        rfm_rows = {r["customer_id"]: r for r in rfm_reference(s, RfmParams(AS_OF, 365), tz)}
        tiers = {cid: _tier(m, lifecycle.DEFAULT_RULES) for cid, m in _measures(s, RfmParams(AS_OF, 365), tz).items()}
        stages = aipl_reference(s, RfmParams(AS_OF, 90), tz, aipl.DEFAULT)
        clv = _clv_reference(s, tz, owner)
        intent = _intent(s, tz, owner)
        run = s.get(ScoreRun, written.run_id)
    population = clv.pop("_population")
    assert merged and set(rows) == live and written.written == len(live)  # one row per live customer, none for merged
    assert run is not None and run.status == "ok" and run.customers == len(live) and run.as_of == AS_OF
    for cid, row in rows.items():
        ref = rfm_rows.get(cid)
        assert (row.rfm_r, row.rfm_f, row.rfm_m, row.rfm_segment) == (
            (ref["r"], ref["f"], ref["m"], ref["segment"]) if ref else (None, None, None, None)), cid
        assert row.lifecycle_tier == tiers.get(cid) and row.aipl_stage == stages.get(cid), cid
        c = clv.get(cid)
        if c is None:
            assert row.clv is None and row.p_alive is None and row.repeat_purchases is None, cid
        else:
            assert row.clv == _yuan(c["clv_fen"]) and row.expected_spend == _yuan(c["spend_fen"]), cid
            assert row.p_alive == pytest.approx(c["alive"], rel=1e-9) and row.repeat_purchases == c["x"]
            assert row.expected_purchases == pytest.approx(c["purchases"], rel=1e-9)
            assert row.days_since_last == int(c["T"] - c["t_x"])
            assert row.p_alive_prev == (None if c["alive_prev"] is None else pytest.approx(c["alive_prev"], rel=1e-9))
        falling, overdue, stake = _churn(c) if c else (False, False, None)
        assert (row.alive_falling, row.overdue, row.value_at_stake) == (falling, overdue, stake), cid
        sig = intent.get(cid)
        high = sig is not None and not sig["paid"] and (sig["days"] > 0 or sig["open"])
        assert row.intent_days == (sig["days"] if sig else 0) and row.open_order == bool(sig and sig["open"]), cid
        spend = c["spend_fen"] if c else population
        expected = _yuan((sig["days"] + OPEN_ORDER_WEIGHT * sig["open"]) * spend) if high and sig else None
        assert row.intent_value == expected, cid
        assert row.last_signal_at == (sig["last"].replace(microsecond=0) if sig else None), cid
    counts = written.counts
    assert counts["at_risk"] == sum(r.value_at_stake is not None for r in rows.values()) > 0
    assert counts["high_intent"] == sum(r.intent_value is not None for r in rows.values()) > 0
    assert any(r.open_order for r in rows.values()) and any(r.alive_falling for r in rows.values())


def test_staff_lists_are_their_customers_ranked(brand: Engine, written: scores.ScoresResult) -> None:
    with unit_of_work(brand, write=False) as s:
        rows = {r.customer_id: r for r in s.scalars(select(CustomerScore))}
        owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
        staff = {st.userid: st.id for st in s.scalars(select(Staff))}
        follows = defaultdict(set)
        for o in s.scalars(select(Ownership).where(Ownership.removed_at.is_(None))):
            follows[o.staff_id].add(owner[o.identity_id])
        for userid in ("staff0", "staff1"):
            mine = [rows[c] for c in follows[staff[userid]] if c in rows]
            risk = sorted((r for r in mine if r.value_at_stake is not None), key=lambda r: (-r.value_at_stake, r.customer_id))
            found = scores_service.attention(s, CLI, userid, "at_risk", 500)
            assert [r.customer_id for r, _name in found.rows] == [r.customer_id for r in risk] and found.total == len(risk)
            keen = sorted((r for r in mine if r.intent_value is not None),
                          key=lambda r: (-r.intent_value, -r.last_signal_at.timestamp(), r.customer_id))
            found = scores_service.attention(s, CLI, userid, "high_intent", 3)
            assert [r.customer_id for r, _name in found.rows] == [r.customer_id for r in keen[:3]]
            assert found.total == len(keen) > 0


def test_a_new_run_replaces_every_row(brand: Engine, settings: Any, tmp_path: Path, written: scores.ScoresResult) -> None:
    later = scores.write_back(brand, tmp_path, AS_OF - timedelta(days=60), settings.tz, trigger="schedule")
    with unit_of_work(brand, write=False) as s:
        stamps = set(s.scalars(select(CustomerScore.computed_at)))
        assert len(stamps) == 1 and s.scalar(select(ScoreRun.trigger).where(ScoreRun.id == later.run_id)) == "schedule"
        assert scores_service.latest_run(s).id == later.run_id  # type: ignore[union-attr]
    assert later.counts["buyers"] < written.counts["buyers"]  # fewer had bought 60 days earlier


def test_a_future_as_of_is_refused_before_anything_runs(brand: Engine, settings: Any, tmp_path: Path) -> None:
    with pytest.raises(Exception) as caught:
        scores.write_back(brand, tmp_path, date(2099, 1, 1), settings.tz, trigger="cli")
    assert getattr(caught.value, "code", "") == "as_of_in_future"
    with unit_of_work(brand, write=False) as s:
        assert s.scalar(select(ScoreRun.id)) is None


def test_a_run_written_in_batches_replaces_exactly_the_scored_customers(
        brand: Engine, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch is its own transaction; rows of customers no longer scored go, before, between and after batches."""
    monkeypatch.setattr(scores, "BATCH", 3)
    monkeypatch.setattr(scores, "SQLITE_BATCH", 3)
    monkeypatch.setattr(scores, "pause_for_writers", lambda _engine: None)
    whole = scores.write_back(brand, tmp_path, AS_OF, settings.tz, trigger="cli")
    with unit_of_work(brand, write=False) as s:
        ids = sorted(s.scalars(select(CustomerScore.customer_id)))
    assert len(ids) == whole.written > 7
    with unit_of_work(brand) as s:  # stray rows: a merged-away customer, ids below, between and above the run's
        victims = [ids[0], ids[4], ids[-1]]
        s.execute(update(Customer).where(Customer.id.in_(victims)).values(merged_into_id=ids[1]))
    again = scores.write_back(brand, tmp_path / "fresh", AS_OF, settings.tz, trigger="cli")  # a new mirror
    with unit_of_work(brand, write=False) as s:
        after = sorted(s.scalars(select(CustomerScore.customer_id)))
        stamps = set(s.scalars(select(CustomerScore.computed_at)))
    assert after == [i for i in ids if i not in victims] and again.written == len(after) and len(stamps) == 1

"""GMV decomposition, repurchase, per-customer value, channel attribution and staff performance on every
engine equal plain recomputations from the facts."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from analytics import growth_brand as gb
from siyu.analytics import attribution, cohort_value, funnel, gmv, repurchase, staff_performance
from siyu.analytics.engines import open_facts
from siyu.analytics.funnel_spec import FunnelParams, parse_steps
from siyu.analytics.retention import period_number, period_start
from siyu.kit.time import UTC, local_day


@pytest.fixture
def brand(db_engine: Engine, settings: Any) -> Engine:
    return gb.load(db_engine, settings)


def _run(store: Engine, tmp_path: Path, fn: Any) -> Any:
    facts = open_facts(store, tmp_path)
    try:
        return fn(facts)
    finally:
        facts.close()


def _edge(day: date, tz: Any) -> datetime:
    """The first instant after brand day ``day``."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def _gmv_reference(r: gb.Reading, p: gmv.Period, tz: Any, entry: tuple[str, ...]) -> tuple[int, int, int, int, int]:
    inside = lambda t: p.start <= local_day(t, tz) <= p.end  # noqa: E731
    traffic, entered, buyers, orders, value = set(), set(), set(), 0, 0
    for e in r.events:
        if inside(e.occurred_at):
            traffic.add(r.owner[e.identity_id])
            if e.type in entry:
                entered.add(r.owner[e.identity_id])
    for pk, cid, paid_at, amount in r.orders:
        if inside(paid_at):
            traffic.add(cid), entered.add(cid), buyers.add(cid)
            orders += 1
            value += r.net(pk, amount, _edge(p.end, tz))
    return len(traffic), len(entered), len(buyers), orders, value


def test_gmv_periods_equal_the_reference_and_parts_sum_to_the_change(brand: Engine, settings: Any,
                                                                     tmp_path: Path) -> None:
    now, before = gmv.Period(date(2026, 6, 1), date(2026, 6, 29)), gmv.Period(date(2026, 5, 3), date(2026, 5, 31))
    # group joins are this brand's "entering the shop"
    got = _run(brand, tmp_path, lambda f: gmv.decompose(f, now, before, settings.tz, ("group_joined",)))
    r = gb.read(brand)
    expected = [_gmv_reference(r, p, settings.tz, ("group_joined",)) for p in (before, now)]
    for t, e in zip((got.base, got.current), expected, strict=True):
        assert (t.traffic, t.entered, t.buyers, t.orders, t.gmv_fen) == e
    assert got.method == "lmdi" and sum(got.parts_fen.values()) == got.change_fen != 0
    v0, v1 = expected[0][4], expected[1][4]
    weight = (v1 - v0) / (math.log(v1) - math.log(v0))
    x = [[t, n / t, b / n, g / b] for t, n, b, _o, g in expected]
    for name, a, b in zip(gmv.FACTORS, x[0], x[1], strict=True):
        assert abs(got.parts_fen[name] - weight * math.log(b / a)) <= 1  # each part within a fen of LMDI


def _totals(traffic: int, entered: int, buyers: int, value: int) -> gmv.Totals:
    return gmv.Totals(gmv.Period(date(2026, 1, 1), date(2026, 1, 31)), traffic, entered, buyers, buyers, value)


def test_lmdi_gives_a_single_factor_change_to_that_factor() -> None:
    base = _totals(1000, 400, 100, 1_000_000)
    assert gmv.round_parts(gmv.lmdi(base, _totals(2000, 800, 200, 2_000_000)), 1_000_000) == \
        {"traffic": 1_000_000, "entry_rate": 0, "conversion": 0, "aov": 0}
    assert gmv.round_parts(gmv.lmdi(base, _totals(1000, 400, 100, 1_500_000)), 500_000) == \
        {"traffic": 0, "entry_rate": 0, "conversion": 0, "aov": 500_000}


@pytest.mark.parametrize("base, current, to", [
    ((0, 0, 0, 0), (10, 5, 2, 3000), "traffic"),  # empty base period: everything came with traffic
    ((10, 5, 2, 3000), (10, 4, 0, 0), "conversion"),  # nobody bought now
    ((10, 5, 2, 3000), (10, 5, 2, 0), "aov"),  # every order refunded
    ((0, 0, 0, 0), (0, 0, 0, 0), None),
])
def test_an_empty_period_puts_the_change_on_its_zero_factor(base: tuple[int, ...], current: tuple[int, ...],
                                                            to: str | None) -> None:
    b, c = _totals(*base), _totals(*current)
    parts = gmv.round_parts(gmv.lmdi(b, c), c.gmv_fen - b.gmv_fen)
    assert sum(parts.values()) == c.gmv_fen - b.gmv_fen
    assert {k for k, v in parts.items() if v} == ({to} if to else set())


def test_rounded_parts_always_sum_to_the_change() -> None:
    parts = {"traffic": 10.5, "entry_rate": -3.5, "conversion": 0.49, "aov": 2.51}
    assert sum(gmv.round_parts(parts, 10).values()) == 10
    assert sum(gmv.round_parts(parts, 11).values()) == 11


def _purchases(r: gb.Reading, end: date, tz: Any) -> dict[int, list[tuple[datetime, int]]]:
    out: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for pk, cid, paid_at, amount in r.orders:
        if local_day(paid_at, tz) <= end and r.net(pk, amount, _edge(end, tz)) > 0:
            out[cid].append((paid_at, pk))
    return {c: sorted(v) for c, v in out.items()}


def _lower_median(values: list[int]) -> int | None:
    return sorted(values)[(len(values) - 1) // 2] if values else None


def test_repurchase_equals_the_reference(brand: Engine, settings: Any, tmp_path: Path) -> None:
    tz, params = settings.tz, repurchase.RepurchaseParams(date(2026, 5, 1), date(2026, 6, 29), "month", 20)
    got = _run(brand, tmp_path, lambda f: repurchase.compute(f, params, tz))
    buys = _purchases(gb.read(brand), params.end, tz)
    days = {c: [local_day(t, tz) for t, _ in v] for c, v in buys.items()}
    cohorts: dict[int, dict[str, Any]] = {}
    for c, ds in days.items():
        k = period_number(ds[0], "month")
        if period_number(params.start, "month") <= k <= period_number(params.end, "month"):
            row = cohorts.setdefault(k, {"customers": 0, "again": [], "gaps": []})
            row["customers"] += 1
            if len(ds) > 1 and (ds[1] - ds[0]).days <= 20:
                row["again"].append((ds[1] - ds[0]).days)
            row["gaps"] += [(b - a).days for a, b in zip(ds, ds[1:])]
    assert got.cohorts == [{"cohort": period_start(k, "month"), "customers": v["customers"], "repurchased": len(v["again"]),
                            "median_days_to_repurchase": _lower_median(v["again"]),
                            "median_gap_days": _lower_median(v["gaps"])} for k, v in sorted(cohorts.items())]
    gaps = [(b - a).days for ds in days.values() for a, b in zip(ds, ds[1:]) if b >= params.start]
    assert got.median_gap_days == _lower_median(gaps) and sum(b["gaps"] for b in got.distribution) == len(gaps) > 5
    assert [b["gaps"] for b in got.distribution][:2] == [sum(g == 0 for g in gaps), sum(g == 1 for g in gaps)]
    in_period = [sum(d >= params.start for d in ds) for ds in days.values()]
    assert (got.period_buyers, got.period_repeat_buyers) == (sum(n >= 1 for n in in_period), sum(n >= 2 for n in in_period))


@pytest.mark.parametrize("cohort_by", ["first_order", "joined"])
def test_value_by_cohort_and_channel_equals_the_reference(brand: Engine, settings: Any, tmp_path: Path,
                                                          cohort_by: Any) -> None:
    tz = settings.tz
    params = cohort_value.ValueParams(date(2026, 5, 1), date(2026, 6, 10), cohort_by, "month", date(2026, 6, 29))
    got = _run(brand, tmp_path, lambda f: cohort_value.compute(f, params, tz))
    r = gb.read(brand)
    spend: dict[int, list[int]] = defaultdict(list)
    first: dict[int, date] = {}
    for pk, cid, paid_at, amount in r.orders:
        if local_day(paid_at, tz) <= params.until:
            spend[cid].append(r.net(pk, amount, _edge(params.until, tz)))
            first[cid] = min(first.get(cid, local_day(paid_at, tz)), local_day(paid_at, tz))
    joined = {c.id: local_day(c.first_seen_at, tz) for c in r.customers.values()}
    lo, hi = period_number(params.start, "month"), period_number(params.end, "month")

    def summary(groups: dict[Any, list[int]]) -> dict[Any, tuple[int, int, int, int]]:
        return {k: (len(v), sum(1 for c in v if spend.get(c)), sum(len(spend.get(c, [])) for c in v),
                    sum(sum(spend.get(c, [])) for c in v)) for k, v in groups.items()}

    cohorts: dict[date, list[int]] = defaultdict(list)
    for c, d in (first if cohort_by == "first_order" else joined).items():
        if lo <= period_number(d, "month") <= hi:
            cohorts[period_start(period_number(d, "month"), "month")].append(c)
    channels: dict[int | None, list[int]] = defaultdict(list)
    for c, d in joined.items():
        if lo <= period_number(d, "month") <= hi:
            channels[r.customers[c].source_channel_code_id].append(c)
    fields = ("customers", "buyers", "orders", "revenue")
    assert {row["cohort"]: tuple(row[f] for f in fields) for row in got.cohorts} == summary(cohorts)
    assert {row["code"]: tuple(row[f] for f in fields) for row in got.channels} == summary(channels)
    assert len(channels) >= 3 and all(row["revenue"] for row in got.cohorts)


def test_attribution_equals_the_reference(brand: Engine, settings: Any, tmp_path: Path) -> None:
    tz, params = settings.tz, attribution.AttributionParams(date(2026, 5, 1), date(2026, 6, 20), 7)
    now_s = int(datetime(2026, 6, 25, tzinfo=UTC).timestamp())
    got = _run(brand, tmp_path, lambda f: attribution.compute(f, params, tz, now_s))
    r = gb.read(brand)
    acquired: dict[int, tuple[int, datetime]] = {}
    for cid, o in r.ownerships:
        code = r.customers[cid].source_channel_code_id
        if code is not None and o.channel_code_id == code and (cid not in acquired or o.added_at < acquired[cid][1]):
            acquired[cid] = (code, o.added_at)
    rows: dict[int, dict[str, int]] = {}
    for cid, (code, at) in acquired.items():
        if not params.start <= local_day(at, tz) <= params.end:
            continue
        row = rows.setdefault(code, dict.fromkeys(("acquired", "complete", "buyers", "orders", "revenue"), 0))
        deadline = at + timedelta(days=7)
        mine = [(pk, amount) for pk, c, paid_at, amount in r.orders if c == cid and at <= paid_at < deadline]
        row["acquired"] += 1
        row["complete"] += deadline.timestamp() <= now_s
        row["buyers"] += bool(mine)
        row["orders"] += len(mine)
        row["revenue"] += sum(r.net(pk, amount, deadline) for pk, amount in mine)
    assert {row["code"]: {k: v for k, v in row.items() if k != "code"} for row in got} == rows
    assert len(rows) == 3 and sum(v["revenue"] for v in rows.values()) > 0


def test_staff_performance_equals_the_reference(brand: Engine, settings: Any, tmp_path: Path) -> None:
    tz, params = settings.tz, staff_performance.StaffParams(date(2026, 5, 10), date(2026, 6, 10), 14)
    got = _run(brand, tmp_path, lambda f: staff_performance.compute(f, params, tz))
    r = gb.read(brand)
    low, high = datetime.combine(params.start, time.min, tzinfo=tz), _edge(params.end, tz)
    out: dict[int, dict[str, Any]] = defaultdict(lambda: {"owned": set(), "added": {}, "orders": set()})
    for cid, o in r.ownerships:
        if o.added_at < high and (o.removed_at is None or o.removed_at >= high):
            out[o.staff_id]["owned"].add(cid)
        if low <= o.added_at < high and o.source != "transfer":
            prev = out[o.staff_id]["added"].get(cid)
            out[o.staff_id]["added"][cid] = min(prev, o.added_at) if prev else o.added_at
        for pk, c, paid_at, amount in r.orders:
            if c == cid and low <= paid_at < high and o.added_at <= paid_at and (o.removed_at is None or o.removed_at > paid_at):
                out[o.staff_id]["orders"].add((pk, r.net(pk, amount, high)))
    expected = {}
    for sid, v in out.items():
        converted = {cid for cid, at in v["added"].items()
                     if any(c == cid and at <= paid_at < at + timedelta(days=14) for _, c, paid_at, _a in r.orders)}
        row = {"owned": len(v["owned"]), "added": len(v["added"]), "converted": len(converted),
               "orders": len(v["orders"]), "revenue": sum(n for _, n in v["orders"])}
        if any(row.values()):
            expected[sid] = row
    assert got == expected and len(expected) == 3 and all(v["revenue"] for v in expected.values())


@pytest.mark.parametrize("make, message", [
    (lambda: gmv.Period(date(2026, 5, 2), date(2026, 5, 1)).check(date(2026, 7, 1), "current"), "is after"),
    (lambda: gmv.Period(date(2026, 5, 2), date(2026, 7, 9)).check(date(2026, 7, 1), "current"), "in the future"),
    (lambda: repurchase.RepurchaseParams(date(2026, 5, 1), date(2026, 5, 2), "day").check(date(2026, 7, 1)), "unit"),
    (lambda: repurchase.RepurchaseParams(date(2026, 5, 1), date(2026, 5, 2), within_days=0).check(date(2026, 7, 1)),
     "within_days"),
    (lambda: cohort_value.ValueParams(date(2026, 5, 1), date(2026, 6, 2), as_of=date(2026, 6, 1)).check(date(2026, 7, 1)),
     "before to"),
    (lambda: attribution.AttributionParams(date(2026, 5, 1), date(2026, 5, 2), 0).check(date(2026, 7, 1)), "days must"),
    (lambda: staff_performance.StaffParams(date(2026, 5, 3), date(2026, 5, 2)).check(date(2026, 7, 1)), "is after"),
])
def test_bad_parameters_say_what_to_fix(make: Any, message: str) -> None:
    with pytest.raises(Exception, match=message) as caught:
        make()
    assert caught.value.status == 422  # type: ignore[attr-defined]


def test_money_in_reports_is_decimal() -> None:
    t = _totals(10, 5, 3, 1001)
    assert t.factors()["aov"] == Decimal("3.34")


def test_empty_periods_give_zeros_not_errors(brand: Engine, settings: Any, tmp_path: Path) -> None:
    """Days before the brand's first fact: every analysis answers with zeros (and no median)."""
    early = gmv.Period(date(2026, 1, 1), date(2026, 1, 31))

    def run(f: Any) -> tuple[Any, ...]:
        steps = funnel.compute(f, FunnelParams(parse_steps("content_viewed,order"), early.start, early.end), settings.tz).steps
        d = gmv.decompose(f, early, early.before(), settings.tz)
        r = repurchase.compute(f, repurchase.RepurchaseParams(early.start, early.end), settings.tz)
        a = attribution.compute(f, attribution.AttributionParams(early.start, early.end), settings.tz, 0)
        s = staff_performance.compute(f, staff_performance.StaffParams(early.start, early.end), settings.tz)
        return steps, d, r, a, s

    steps, d, r, a, s = _run(brand, tmp_path, run)
    assert [(x.customers, x.median_s_from_entry) for x in steps] == [(0, None), (0, None)]
    assert d.parts_fen == dict.fromkeys(gmv.FACTORS, 0) and d.current.traffic == 0 and d.method == "zero_period_limit"
    assert r.cohorts == [] and r.median_gap_days is None and r.period_buyers == 0
    assert a == [] and all(v["orders"] == 0 and v["added"] == 0 for v in s.values())

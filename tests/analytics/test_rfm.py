"""RFM on every engine equals a plain recomputation from the facts.

Generated brand: people with several identities (some share a phone, so ingestion merges them), paid
orders at times around midnight in Asia/Shanghai, refunds in part and in full before and after the
as-of date, equal values (ties). The reference below applies the definitions of analytics/rfm.py to
the ORM rows directly, with its own quintiles.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pytest
from sqlalchemy import Engine, select

from siyu.analytics import rfm
from siyu.analytics.engines import Facts, open_facts
from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order, OrderFact
from siyu.kit.time import UTC, local_day

AS_OF = date(2026, 6, 30)
SHANGHAI = timedelta(hours=8)


def _local(day: date, hh: int, mm: int = 0, ss: int = 0, us: int = 0) -> str:
    return (datetime(day.year, day.month, day.day, hh, mm, ss, us) - SHANGHAI).replace(tzinfo=UTC).isoformat()


def _orders(rng: random.Random, people: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in range(people):
        ids = {"openid:wxmini": f"oRFM{p:05d}"}
        if p % 7 == 0:
            ids["phone"] = f"1380000{p // 14:04d}"  # two people share a phone: merged into one customer
        for n in range(rng.choice([1, 1, 1, 2, 3, 5])):
            day = AS_OF - timedelta(days=rng.choice([0, 0, 1, 2, 30, 90, 200, 364, 365, 400]))
            hh, mm, ss = rng.choice([(0, 0, 0), (23, 59, 59), (12, 0, 0)])
            at = _local(day, hh, mm, ss)
            amount = rng.choice(["10.00", "99.00", "99.00", "250.50"])
            oid = f"R{p}-{n}"
            out.append({"order_id": oid, "status": "paid", "occurred_at": at, "amount": amount, "identities": ids})
            if rng.random() < 0.3:
                when = day + timedelta(days=rng.choice([0, 1, 3]))
                out.append({"order_id": oid, "status": "refunded", "occurred_at": _local(when, 10), "amount": amount,
                            "refund_id": "r1", "refund_amount": rng.choice(["5.00", amount])})
    # the as-of day's last second and the next day's first: inside and outside the window
    out.append({"order_id": "EDGE-in", "status": "paid", "occurred_at": _local(AS_OF, 23, 59, 59, 700_000),
                "amount": "1.00", "identities": {"openid:wxmini": "oEDGE00001"}})
    out.append({"order_id": "EDGE-out", "status": "paid", "occurred_at": _local(AS_OF + timedelta(days=1), 0),
                "amount": "1.00", "identities": {"openid:wxmini": "oEDGE00001"}})
    return out


def _ntile(keys: list[tuple[Any, ...]]) -> dict[Any, int]:
    """Return 1–5 per last key element, as SQL's ntile(5) over rows sorted by ``keys`` (+1)."""
    ordered = sorted(keys)
    n = len(ordered)
    small, extra = divmod(n, 5)
    out, i = {}, 0
    for bucket in range(5):
        size = small + (1 if bucket < extra else 0)
        for k in ordered[i:i + size]:
            out[k[-1]] = bucket + 1
        i += size
    return out


def _reference(s: Any, params: rfm.RfmParams, tz: Any) -> list[dict[str, Any]]:
    owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
    first = params.as_of - timedelta(days=params.window_days - 1)
    refunds: dict[int, int] = defaultdict(int)
    for f in s.scalars(select(OrderFact).where(OrderFact.status == "refunded")):
        if local_day(f.occurred_at, tz) <= params.as_of:
            refunds[f.order_pk] += f.amount_fen
    per: dict[int, dict[str, Any]] = {}
    for o in s.scalars(select(Order)):
        if o.paid_at is None or not first <= local_day(o.paid_at, tz) <= params.as_of:
            continue
        c = per.setdefault(owner[o.identity_id], {"last": date.min, "frequency": 0, "monetary_fen": 0})
        c["last"] = max(c["last"], local_day(o.paid_at, tz))
        c["frequency"] += 1
        c["monetary_fen"] += o.amount_fen - refunds[o.id]
    rows = [{"customer_id": cid, "recency_days": (params.as_of - c["last"]).days, "frequency": c["frequency"],
             "monetary_fen": c["monetary_fen"]} for cid, c in per.items()]
    r = _ntile([(-x["recency_days"], x["customer_id"]) for x in rows])
    f = _ntile([(x["frequency"], x["customer_id"]) for x in rows])
    m = _ntile([(x["monetary_fen"], x["customer_id"]) for x in rows])
    for x in rows:
        x.update(r=r[x["customer_id"]], f=f[x["customer_id"]], m=m[x["customer_id"]])
    means = {k: sum(x[k] for x in rows) / len(rows) for k in "rfm"}
    for x in rows:
        x["segment"] = rfm.segment_of(x["r"] > means["r"], x["f"] > means["f"], x["m"] > means["m"])
    return sorted(rows, key=lambda x: x["customer_id"])


@pytest.fixture
def brand(db_engine: Engine, settings: Any) -> Engine:
    ctx = ingest.IngestContext.from_settings(settings)
    orders = _orders(random.Random(11), 400)
    paid = [o for o in orders if o["status"] == "paid"]
    later = [o for o in orders if o["status"] != "paid"]
    for part in (paid[i:i + 500] for i in range(0, len(paid), 500)):
        with unit_of_work(db_engine) as s:
            assert not ingest.ingest_orders(s, ctx, part).rejected
    with unit_of_work(db_engine) as s:
        assert not ingest.ingest_orders(s, ctx, later).rejected
    return db_engine


def test_rfm_equals_the_reference_on_every_engine(brand: Engine, settings: Any, tmp_path: Path) -> None:
    params = rfm.RfmParams(as_of=AS_OF, window_days=365)
    facts = open_facts(brand, tmp_path)
    try:
        result = rfm.compute(facts, params, settings.tz, with_rows=True)
    finally:
        facts.close()
    with unit_of_work(brand, write=False) as s:
        expected = _reference(s, params, settings.tz)
    assert result.rows == expected
    assert result.customers == len(expected)
    assert sum(result.segments.values()) == len(expected) and sum(result.grid.values()) == len(expected)
    assert result.means == {k: round(sum(x[k] for x in expected) / len(expected), 4) for k in "rfm"}
    assert result.segments == {code: sum(x["segment"] == code for x in expected) for code in rfm.SEGMENT_ORDER}
    assert result.spend_fen == {code: sum(x["monetary_fen"] for x in expected if x["segment"] == code)
                                for code in rfm.SEGMENT_ORDER}
    edge = next(x for x in expected if x["monetary_fen"] == 100 and x["recency_days"] == 0 and x["frequency"] == 1)
    assert edge  # the order at 23:59:59 on the as-of day counts; the one a second later does not
    with unit_of_work(brand, write=False) as s:
        merged = s.execute(select(Identity.customer_id).where(Identity.kind == "phone")).scalars().all()
    assert any(x["customer_id"] in merged and x["frequency"] >= 2 for x in expected)


def test_packed_sort_keys_give_the_same_scores_as_two_keys(brand: Engine, settings: Any, tmp_path: Path) -> None:
    params = rfm.RfmParams(as_of=AS_OF, window_days=365)
    facts = open_facts(brand, tmp_path)
    try:
        assert rfm.ids_packable(facts)
        rows = {packed: rfm.scored(facts, params, settings.tz, packed=packed).order_by("customer_id")
                .to_pyarrow().to_pylist() for packed in (True, False)}
    finally:
        facts.close()
    assert rows[True] == rows[False] and len(rows[True]) > 100
    assert len({x["recency_days"] for x in rows[True]}) < len(rows[True])  # ties, broken by customer id


def test_ids_past_two_to_the_32_keep_two_sort_keys() -> None:
    con = ibis.duckdb.connect()
    con.create_table("customers", ibis.memtable({"id": [1, rfm.PACK - 1]}))
    assert rfm.ids_packable(Facts("duckdb", con))
    con.create_table("customers", ibis.memtable({"id": [1, rfm.PACK]}), overwrite=True)
    assert not rfm.ids_packable(Facts("duckdb", con))
    con.disconnect()


def test_business_thresholds_score_by_cut_points(brand: Engine, settings: Any, tmp_path: Path) -> None:
    cuts = rfm.Thresholds(recency_days=(0, 2, 30, 200), frequency=(2, 3, 4, 5), monetary_fen=(1000, 9900, 20000, 50000))
    facts = open_facts(brand, tmp_path)
    try:
        rows = rfm.compute(facts, rfm.RfmParams(as_of=AS_OF, thresholds=cuts), settings.tz, with_rows=True).rows
    finally:
        facts.close()
    assert rows
    for x in rows:
        assert x["r"] == 5 - sum(x["recency_days"] > c for c in cuts.recency_days)
        assert x["f"] == 1 + sum(x["frequency"] >= c for c in cuts.frequency)
        assert x["m"] == 1 + sum(x["monetary_fen"] >= c for c in cuts.monetary_fen)


def test_a_later_sync_sees_new_orders_and_refunds(brand: Engine, settings: Any, tmp_path: Path) -> None:
    params = rfm.RfmParams(as_of=AS_OF, window_days=30)
    facts = open_facts(brand, tmp_path)
    try:
        before = rfm.compute(facts, params, settings.tz, with_rows=True).rows
    finally:
        facts.close()
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(brand) as s:
        ingest.ingest_orders(s, ctx, [
            {"order_id": "LATE-1", "status": "paid", "occurred_at": _local(AS_OF, 9), "amount": "77.00",
             "identities": {"openid:wxmini": "oLATE00001"}},
            {"order_id": "EDGE-in", "status": "refunded", "occurred_at": _local(AS_OF, 23, 59, 59), "amount": "1.00"}])
    facts = open_facts(brand, tmp_path)
    try:
        after = rfm.compute(facts, params, settings.tz, with_rows=True).rows
    finally:
        facts.close()
    with unit_of_work(brand, write=False) as s:
        assert after == _reference(s, params, settings.tz)
    assert len(after) == len(before) + 1


def test_refunds_after_the_as_of_day_count_only_for_orders_in_the_window(brand: Engine, settings: Any,
                                                                       tmp_path: Path) -> None:
    params = rfm.RfmParams(as_of=AS_OF, window_days=30)
    ctx = ingest.IngestContext.from_settings(settings)
    two, old = {"openid:wxmini": "oTWO00001"}, {"openid:wxmini": "oOLD00001"}
    with unit_of_work(brand) as s:
        assert not ingest.ingest_orders(s, ctx, [
            {"order_id": "TWO-1", "status": "paid", "occurred_at": _local(AS_OF - timedelta(days=10), 9),
             "amount": "300.00", "identities": two},
            {"order_id": "TWO-2", "status": "paid", "occurred_at": _local(AS_OF, 8), "amount": "40.00", "identities": two},
            {"order_id": "OLD-1", "status": "paid", "occurred_at": _local(AS_OF - timedelta(days=45), 9),
             "amount": "50.00", "identities": old}]).rejected
    with unit_of_work(brand) as s:
        assert not ingest.ingest_orders(s, ctx, [  # refunds before and after the as-of day's end
            {"order_id": "TWO-1", "status": "refunded", "occurred_at": _local(AS_OF - timedelta(days=5), 10),
             "amount": "300.00", "refund_id": "a", "refund_amount": "20.00"},
            {"order_id": "TWO-1", "status": "refunded", "occurred_at": _local(AS_OF + timedelta(days=1), 0),
             "amount": "300.00", "refund_id": "b", "refund_amount": "100.00"},
            {"order_id": "TWO-2", "status": "refunded", "occurred_at": _local(AS_OF + timedelta(days=2), 10),
             "amount": "40.00", "refund_id": "c", "refund_amount": "40.00"},
            {"order_id": "OLD-1", "status": "refunded", "occurred_at": _local(AS_OF + timedelta(days=1), 10),
             "amount": "50.00", "refund_id": "d", "refund_amount": "50.00"}]).rejected
    facts = open_facts(brand, tmp_path)
    try:
        rows = rfm.compute(facts, params, settings.tz, with_rows=True).rows
    finally:
        facts.close()
    with unit_of_work(brand, write=False) as s:
        assert rows == _reference(s, params, settings.tz)
        two_id, old_id = (s.execute(select(Identity.customer_id).join(Order, Order.identity_id == Identity.id)
                                    .where(Order.order_id == oid)).scalar_one() for oid in ("TWO-1", "OLD-1"))
    by_customer = {x["customer_id"]: x for x in rows}
    # 300.00 less the 20.00 refunded before the as-of day's end, and 40.00 refunded only after it
    assert (by_customer[two_id]["frequency"], by_customer[two_id]["monetary_fen"], by_customer[two_id]["recency_days"]) \
        == (2, 32_000, 0)
    assert old_id not in by_customer  # a late refund of an order before the window scores no one


@pytest.mark.parametrize("change, code", [
    ({"as_of": date.today() + timedelta(days=2)}, "as_of_in_future"),
    ({"window_days": 0}, "invalid_rfm"),
])
def test_bad_parameters_are_refused(change: dict[str, Any], code: str) -> None:
    params = rfm.RfmParams(**{"as_of": AS_OF, **change})
    with pytest.raises(rfm.InvalidRfm) as refused:
        params.check(date.today())
    assert refused.value.code == code


def test_thresholds_must_ascend() -> None:
    with pytest.raises(rfm.InvalidRfm, match="four strictly ascending"):
        rfm.Thresholds(recency_days=(30, 7, 90, 180), frequency=(1, 2, 3, 4), monetary_fen=(1, 2, 3, 4))


def test_migration_between_two_dates_counts_every_customer_once(brand: Engine, settings: Any, tmp_path: Path) -> None:
    before, after = rfm.RfmParams(as_of=AS_OF - timedelta(days=60)), rfm.RfmParams(as_of=AS_OF)
    facts = open_facts(brand, tmp_path)
    try:
        flows = rfm.migration(facts, before, after, settings.tz)
    finally:
        facts.close()
    with unit_of_work(brand, write=False) as s:
        a = {x["customer_id"]: x["segment"] for x in _reference(s, before, settings.tz)}
        b = {x["customer_id"]: x["segment"] for x in _reference(s, after, settings.tz)}
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for cid in a.keys() | b.keys():
        expected[(a.get(cid, rfm.NONE), b.get(cid, rfm.NONE))] += 1
    assert flows == dict(expected)
    assert any(src == rfm.NONE for src, _dst in flows) and any(dst == rfm.NONE for _src, dst in flows)

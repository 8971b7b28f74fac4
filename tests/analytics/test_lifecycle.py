"""Lifecycle tiers and new vs returning buyers on every engine equal a plain recomputation from the facts."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from analytics.test_rfm import AS_OF, _orders
from siyu.analytics import lifecycle
from siyu.analytics.engines import open_facts
from siyu.analytics.rfm import RfmParams
from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order, OrderFact
from siyu.kit.time import local_day


def _measures(s: Any, params: RfmParams, tz: Any) -> dict[int, dict[str, Any]]:
    owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
    first_day = params.as_of - timedelta(days=params.window_days - 1)
    refunds: dict[int, int] = defaultdict(int)
    for f in s.scalars(select(OrderFact).where(OrderFact.status == "refunded")):
        if local_day(f.occurred_at, tz) <= params.as_of:
            refunds[f.order_pk] += f.amount_fen
    out: dict[int, dict[str, Any]] = {}
    for o in s.scalars(select(Order)):
        if o.paid_at is None or local_day(o.paid_at, tz) > params.as_of:
            continue
        day = local_day(o.paid_at, tz)
        m = out.setdefault(owner[o.identity_id], {"orders": 0, "spend_fen": 0, "first": day, "last": day})
        m["first"], m["last"] = min(m["first"], day), max(m["last"], day)
        if day >= first_day:
            m["orders"] += 1
            m["spend_fen"] += o.amount_fen - refunds[o.id]
    for m in out.values():
        m["days_since_first"] = (params.as_of - m["first"]).days
        m["days_since_last"] = (params.as_of - m["last"]).days
        m["returning"] = m["first"] < first_day
    return out


def _tier(m: dict[str, Any], rules: tuple[lifecycle.Rule, ...]) -> str:
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b}
    for rule in rules[:-1]:
        if all(ops[op](m[measure], value) for measure, op, value in rule.conditions):
            return rule.tier
    return rules[-1].tier


@pytest.fixture
def brand(db_engine: Engine, settings: Any) -> Engine:
    ctx = ingest.IngestContext.from_settings(settings)
    orders = _orders(random.Random(23), 400)
    with unit_of_work(db_engine) as s:
        assert not ingest.ingest_orders(s, ctx, [o for o in orders if o["status"] == "paid"]).rejected
    with unit_of_work(db_engine) as s:
        assert not ingest.ingest_orders(s, ctx, [o for o in orders if o["status"] != "paid"]).rejected
    return db_engine


CUSTOM = lifecycle.parse_rules([
    {"tier": "vip", "name_zh": "贵宾", "when": {"spend_fen": {">=": 20000}, "orders": {">=": 2}}},
    {"tier": "fresh", "when": {"days_since_first": {"<=": 2}}},
    {"tier": "one_off", "when": {"orders": {"==": 1}}},
    {"tier": "rest"},
])


@pytest.mark.parametrize("rules", [lifecycle.DEFAULT_RULES, CUSTOM], ids=["default", "custom"])
@pytest.mark.parametrize("window", [365, 30])
def test_tiers_equal_the_reference(brand: Engine, settings: Any, tmp_path: Path, rules, window) -> None:
    params = RfmParams(as_of=AS_OF, window_days=window)
    facts = open_facts(brand, tmp_path)
    try:
        result = lifecycle.compute(facts, params, settings.tz, rules)
    finally:
        facts.close()
    with unit_of_work(brand, write=False) as s:
        ref = _measures(s, params, settings.tz)
    expected = {rule.tier: 0 for rule in rules}
    for m in ref.values():
        expected[_tier(m, rules)] += 1
    assert result.tiers == expected and sum(expected.values()) == len(ref)
    buyers = [m for m in ref.values() if m["orders"] > 0]
    assert (result.new_buyers, result.returning_buyers) == (sum(not m["returning"] for m in buyers),
                                                            sum(m["returning"] for m in buyers))
    assert sum(1 for n in expected.values() if n) >= 3  # the generated brand reaches several tiers


@pytest.mark.parametrize("raw, message", [
    ([], "non-empty JSON list"),
    ([{"tier": "a", "when": {"age": {">=": 1}}}], "unknown measure 'age'"),
    ([{"tier": "a", "when": {"orders": {">": 1}}}], "use >=, <= or =="),
    ([{"tier": "a", "when": {"orders": {">=": 1.5}}}], "whole number"),
    ([{"tier": "a"}, {"tier": "a"}], "appears twice"),
    ([{"tier": "a", "colour": "red"}], "unknown field(s) colour"),
    ([{"name_zh": "无名"}], "non-empty 'tier'"),
])
def test_bad_rules_say_what_to_fix(raw, message) -> None:
    with pytest.raises(lifecycle.InvalidRules, match=message.replace("(", r"\(").replace(")", r"\)")):
        lifecycle.parse_rules(raw)


def test_as_of_decides_what_is_known(brand: Engine, settings: Any, tmp_path: Path) -> None:
    """Orders after the as-of day are unknown: an earlier as-of sees fewer customers."""
    facts = open_facts(brand, tmp_path)
    try:
        now = lifecycle.compute(facts, RfmParams(as_of=AS_OF), settings.tz)
        before = lifecycle.compute(facts, RfmParams(as_of=AS_OF - timedelta(days=100)), settings.tz)
    finally:
        facts.close()
    assert sum(before.tiers.values()) < sum(now.tiers.values())

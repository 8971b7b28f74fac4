"""AIPL stages and their flows on every engine equal a plain recomputation from the facts."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from analytics.test_rfm import AS_OF, _local
from siyu.analytics import aipl
from siyu.analytics.engines import open_facts
from siyu.analytics.rfm import RfmParams
from siyu.db.engine import unit_of_work
from siyu.domains.events import Event
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order
from siyu.kit.time import local_day

TYPES = ["content_viewed", "mini_program_opened", "content_clicked", "group_joined", "invited", "content_shared"]


def brand_facts() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the generated brand's events and orders (also used by the Spark engine's test)."""
    rng = random.Random(31)
    events, orders = [], []
    for p in range(300):
        ids = {"openid:wxmini": f"oAIPL{p:05d}"}
        if p % 9 == 0:
            ids["phone"] = f"1390000{p // 18:04d}"  # pairs share a phone: merged, their facts count together
        for n in range(rng.choice([0, 1, 2, 4])):
            day = AS_OF - timedelta(days=rng.choice([0, 5, 40, 89, 90, 120]))
            events.append({"event_id": f"e{p}-{n}", "type": rng.choice(TYPES), "occurred_at": _local(day, 23, 59, 59),
                           "identities": ids, "properties": {"content_id": "c1", "inviter": "x", "chat_id": "g1"}})
        for n in range(rng.choice([0, 0, 1, 2])):
            day = AS_OF - timedelta(days=rng.choice([0, 30, 100]))
            orders.append({"order_id": f"o{p}-{n}", "status": "paid", "occurred_at": _local(day, 0), "amount": "9.90",
                           "identities": ids})
    return events, orders


def load_brand(engine: Engine, settings: Any) -> Engine:
    """Ingest the generated brand into ``engine``."""
    events, orders = brand_facts()
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(engine) as s:
        result = ingest.ingest_events(s, ctx, events)
        assert not result.rejected, result.rejected[:3]
        assert not ingest.ingest_orders(s, ctx, orders).rejected
    return engine


@pytest.fixture
def brand(db_engine: Engine, settings: Any) -> Engine:
    return load_brand(db_engine, settings)


def _reference(s: Any, params: RfmParams, tz: Any, rules: aipl.RULES) -> dict[int, str]:
    owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
    first = params.as_of - timedelta(days=params.window_days - 1)
    inside = lambda t: first <= local_day(t, tz) <= params.as_of  # noqa: E731
    events: dict[int, Counter[str]] = defaultdict(Counter)
    for e in s.scalars(select(Event)):
        if inside(e.occurred_at):
            events[owner[e.identity_id]][e.type] += 1
    paid: Counter[int] = Counter(owner[o.identity_id] for o in s.scalars(select(Order))
                                 if o.paid_at is not None and inside(o.paid_at))
    out = {}
    for cid in set(events) | set(paid):
        for stage in reversed(aipl.STAGES):
            if any(sum(events[cid][t] for t in alt.events) >= alt.at_least and paid[cid] >= alt.orders
                   for alt in rules[stage]):
                out[cid] = stage
                break
    return out


CUSTOM = aipl.parse_rules({
    "awareness": [{"events": ["content_viewed"]}],
    "interest": [{"events": ["content_clicked", "content_shared"], "at_least": 2}, {"events": ["group_joined"]}],
    "purchase": [{"orders": 1}],
    "loyalty": [{"orders": 2}, {"events": ["invited"], "orders": 1}],
})


@pytest.mark.parametrize("rules", [aipl.DEFAULT, CUSTOM], ids=["default", "custom"])
def test_stages_and_flows_equal_the_reference(brand: Engine, settings: Any, tmp_path: Path, rules) -> None:
    now, before = RfmParams(as_of=AS_OF, window_days=90), RfmParams(as_of=AS_OF - timedelta(days=45), window_days=90)
    facts = open_facts(brand, tmp_path)
    try:
        got = aipl.distribution(facts, now, settings.tz, rules)
        moved = aipl.flows(facts, before, now, settings.tz, rules)
    finally:
        facts.close()
    with unit_of_work(brand, write=False) as s:
        ref_now, ref_before = _reference(s, now, settings.tz, rules), _reference(s, before, settings.tz, rules)
    assert got == {stage: sum(v == stage for v in ref_now.values()) for stage in aipl.STAGES}
    expected: Counter[tuple[str, str]] = Counter()
    for cid in ref_now.keys() | ref_before.keys():
        expected[(ref_before.get(cid, aipl.NONE), ref_now.get(cid, aipl.NONE))] += 1
    assert moved == dict(expected)
    assert sum(1 for n in got.values() if n) == 4  # every stage is reached by someone


@pytest.mark.parametrize("raw, message", [
    ({"awareness": []}, "exactly the stages"),
    ({**{s: [{"orders": 1}] for s in aipl.STAGES}, "interest": []}, "interest: give a non-empty list"),
    ({**{s: [{"orders": 1}] for s in aipl.STAGES}, "loyalty": [{}]}, "ask for events or orders"),
    ({**{s: [{"orders": 1}] for s in aipl.STAGES}, "loyalty": [{"events": ["x"], "at_least": 0}]}, "at_least must be"),
    ({**{s: [{"orders": 1}] for s in aipl.STAGES}, "purchase": [{"orders": -1}]}, "whole number"),
    ({**{s: [{"orders": 1}] for s in aipl.STAGES}, "purchase": [{"orders": 1, "spend": 9}]}, "use only events"),
])
def test_bad_rules_say_what_to_fix(raw, message) -> None:
    with pytest.raises(aipl.InvalidAipl, match=message):
        aipl.parse_rules(raw)

"""Stored members: entered/exited history, rule tags gained and lost, incremental refresh == full refresh."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from domains.segments.brand import NOW, TZ, build
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access import SYSTEM
from siyu.domains.customers import service as customers
from siyu.domains.customers.models import Customer
from siyu.domains.events.models import Event
from siyu.domains.groups.models import CustomerGroup, GroupMembership
from siyu.domains.identity.models import Identity, Merge
from siyu.domains.orders.models import Order, OrderFact, OrderItem
from siyu.domains.segments import refresh, service
from siyu.domains.segments.models import SegmentMembership
from siyu.domains.segments.rule_repository import Clock, Compiler
from siyu.domains.staff.models import Ownership, Staff
from siyu.domains.tags import service as tags
from siyu.domains.tags.models import CustomerTag, Tag
from siyu.errors import SiyuError
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow

RULES: dict[str, Any] = {
    "viewers": {"all": [{"event": "content_viewed", "count": {"op": "gte", "value": 2}, "window": {"last_days": 30}},
                        {"not": {"tag": "VIP"}}]},
    "buyers": {"any": [{"order": "total", "op": "gte", "value": "100"}, {"order": "category", "op": "in", "value": ["礼盒"]}]},
    "followed": {"all": [{"owner": "*"}, {"group": "*"}]},
}


def _open(s: Session, segment_id: int) -> set[int]:
    return set(s.scalars(select(SegmentMembership.customer_id).where(SegmentMembership.segment_id == segment_id,
                                                                      SegmentMembership.exited_at.is_(None))))


def _define(s: Session) -> dict[str, int]:
    ids = {name: service.create_segment(s, name=name, rule=rule, actor="test", tz=TZ).id for name, rule in RULES.items()}
    service.create_rule_tag(s, name="活跃买家", rule={"all": [{"segment": ids["buyers"]}, {"segment": ids["viewers"]}]},
                            group="规则", actor="test", tz=TZ)
    ids["uses_tag"] = service.create_segment(s, name="uses_tag", rule={"any": [{"tag": "活跃买家"}, {"tag": "VIP"}]},
                                             actor="test", tz=TZ).id
    return ids


def _assert_current(s: Session, now: datetime) -> None:
    """Every stored answer equals a fresh evaluation of its rule over all customers."""
    postgres = s.get_bind().dialect.name == "postgresql"
    for target in refresh.all_targets(s):
        want = set(s.scalars(Compiler(Clock(now, TZ), postgres).members(target.node)))
        assert target.current(s, None) == want, target.key


def test_create_evaluates_and_history_records_entries_and_exits(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        build(s, vault)
        segment = service.create_segment(s, name="上海客户", rule={"attribute": "city", "op": "eq", "value": "上海"},
                                         actor="test", tz=TZ)
        first = _open(s, segment.id)
        assert first and segment.members == len(first) and segment.refreshed_at is not None
        moved = min(first)
        s.execute(update(Customer).where(Customer.id == moved).values(city="杭州"))
        stranger = next(c for c in s.scalars(select(Customer.id).where(Customer.merged_into_id.is_(None),
                                                                       Customer.city == "杭州", Customer.id != moved)))
        s.execute(update(Customer).where(Customer.id == stranger).values(city="上海"))
        entered, exited = service.refresh_segment(s, segment.id, TZ)
        assert (entered, exited) == (1, 1)
        stays = service.history(s, segment.id, SYSTEM, limit=500)
        by_customer = {(m.customer_id, m.exited_at is None) for m in stays}
        assert (moved, False) in by_customer and (stranger, True) in by_customer
        closed = next(m for m in stays if m.customer_id == moved)
        assert closed.exited_at is not None and closed.exited_at >= closed.entered_at
        assert _open(s, segment.id) == first - {moved} | {stranger}


def test_rule_tags_record_when_gained_and_lost(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        build(s, vault)
        tag = service.create_rule_tag(s, name="杭州人", rule={"attribute": "city", "op": "eq", "value": "杭州"},
                                      group="地区", actor="test", tz=TZ)
        holders = tags.rule_holders(s, tag.id)
        assert holders == set(s.scalars(select(Customer.id).where(Customer.city == "杭州",
                                                                  Customer.merged_into_id.is_(None))))
        leaver = min(holders)
        s.execute(update(Customer).where(Customer.id == leaver).values(city="北京"))
        later = utcnow() + timedelta(hours=5)  # the tag was created (and first evaluated) now
        refresh.refresh_full(s, TZ, now=later)
        rows = tags.tag_history(s, "杭州人", customer_id=leaver)
        assert len(rows) == 1 and rows[0].source == "rule" and rows[0].removed_at == later
        assert rows[0].added_at < later
        s.execute(update(Customer).where(Customer.id == leaver).values(city="杭州"))
        refresh.refresh_full(s, TZ, now=later + timedelta(hours=1))
        rows = tags.tag_history(s, "杭州人", customer_id=leaver)
        assert [(r.added_at, r.removed_at) for r in rows][0] == (later + timedelta(hours=1), None)
        assert len(rows) == 2  # the earlier hold is kept, closed


def test_cycles_and_unknown_references_are_refused(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        build(s, vault)
        a = service.create_segment(s, name="a", rule={"identity": "phone"}, actor="t", tz=TZ)
        b = service.create_segment(s, name="b", rule={"segment": a.id}, actor="t", tz=TZ)
        for rule, code in (({"segment": b.id}, "rule_cycle"), ({"segment": a.id}, "rule_cycle"),
                           ({"all": [{"tag": "VIP"}, {"segment": 999}]}, "invalid_rule"),
                           ({"any": [{"tag": "没有"}]}, "invalid_rule"), ({"owner": ["nobody"]}, "invalid_rule")):
            try:
                service.update_segment(s, a.id, rule=rule, actor="t", tz=TZ)
            except SiyuError as exc:
                assert exc.code == code
                if code == "invalid_rule":
                    assert exc.details["errors"][0]["code"] in ("unknown_segment", "unknown_tag", "unknown_staff")
                    assert exc.details["errors"][0]["path"] != "$"
            else:
                raise AssertionError(f"{rule} was accepted")
        try:
            service.create_segment(s, name="a", rule={"identity": "phone"}, actor="t", tz=TZ)
        except SiyuError as exc:
            assert exc.code == "segment_exists"


def _new_facts(s: Session, rng: random.Random, step: int, now: datetime) -> None:
    """Add a batch of facts for a few customers: events, orders, follow relations, stays, holds, a merge."""
    live = list(s.scalars(select(Customer.id).where(Customer.merged_into_id.is_(None)).order_by(Customer.id)))
    idents = {c: i for i, c in s.execute(select(Identity.id, Identity.customer_id))}
    staff_ids = list(s.scalars(select(Staff.id)))
    group_ids = list(s.scalars(select(CustomerGroup.id)))
    for k, cid in enumerate(rng.sample(live, 4)):
        ident = idents.get(cid)
        if ident is None:
            continue
        when = NOW - timedelta(days=rng.randrange(40), minutes=rng.randrange(1440))
        roll = rng.random()
        if roll < 0.35:
            s.add(Event(event_id=f"p{step}-{k}", type="content_viewed", occurred_at=when, received_at=NOW,
                        identity_id=ident, properties={"topic": "新品"}))
        elif roll < 0.55:
            order = Order(order_id=f"p{step}-{k}", identity_id=ident, amount_fen=rng.choice([3000, 12000]), refunded_fen=0,
                          status="paid", placed_at=when, paid_at=when, updated_at=when)
            s.add(order)
            s.flush()
            s.add_all([OrderFact(order_pk=order.id, status="paid", amount_fen=order.amount_fen, occurred_at=when,
                                 received_at=NOW),
                       OrderItem(order_pk=order.id, sku="G001", category=rng.choice(["礼盒", "奶茶"]), quantity=1,
                                 unit_price_fen=1, amount_fen=1)])
        elif roll < 0.7:
            staff = rng.choice(staff_ids)
            if s.scalar(select(Ownership.id).where(Ownership.identity_id == ident, Ownership.staff_id == staff,
                                                   Ownership.removed_at.is_(None))) is None:
                s.add(Ownership(identity_id=ident, staff_id=staff, source="import", added_at=when))
        elif roll < 0.8:
            s.add(GroupMembership(group_id=rng.choice(group_ids), identity_id=ident, joined_at=when))
        elif roll < 0.9:
            tags.apply_tags(s, cid, ["VIP"], "manual", at=now)
        else:
            vip = s.scalar(select(Tag.id).where(Tag.name == "VIP"))
            s.execute(update(CustomerTag).where(CustomerTag.customer_id == cid, CustomerTag.tag_id == vip)
                      .values(removed_at=now))
    if rng.random() < 0.3:  # a merge: the second customer's identities move to the first, its tags stay behind
        a, b = rng.sample(live, 2)
        s.execute(update(Identity).where(Identity.customer_id == b).values(customer_id=a))
        s.execute(update(Customer).where(Customer.merged_into_id == b).values(merged_into_id=a))
        s.execute(update(Customer).where(Customer.id == b).values(merged_into_id=a))
        s.add(Merge(survivor_id=a, merged_id=b, identity_ids=[], via_identity_ids=[], cause_type="event", cause_ref=f"p{step}",
                    created_at=NOW))
    s.flush()


def test_incremental_refresh_equals_full_refresh(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        build(s, vault, people=40)
        _define(s)
        refresh.refresh_full(s, TZ, now=NOW)
        _assert_current(s, NOW)
        steps = iter(range(1, 10_000))

        @hsettings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(st.integers(0, 2**32), min_size=1, max_size=3))
        def batches(seeds: list[int]) -> None:
            step = next(steps)
            now = NOW + timedelta(minutes=step)  # the clock moves on between turns, within one Shanghai day
            for n, seed in enumerate(seeds):
                _new_facts(s, random.Random(seed), step * 10 + n, now)
            refresh.refresh_incremental(s, TZ, now=now)
            _assert_current(s, now)

        batches()
        assert refresh.refresh_incremental(s, TZ, now=NOW + timedelta(hours=3)) is None  # nothing new
        _new_facts(s, random.Random(1), 0, NOW + timedelta(hours=3))
        outcome = refresh.refresh_incremental(s, TZ, now=NOW + timedelta(hours=4))
        assert outcome is not None and not outcome.full and 0 < (outcome.customers or 0) <= 6


def test_incremental_sees_audited_profile_edits(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        build(s, vault, people=40)
        segment = service.create_segment(s, name="北京", rule={"attribute": "city", "op": "eq", "value": "北京"},
                                         actor="t", tz=TZ)
        refresh.refresh_full(s, TZ, now=NOW)
        mover = next(c for c in s.scalars(select(Customer.id).where(Customer.merged_into_id.is_(None),
                                                                   Customer.city == "上海")))
        customers.update_profile(s, vault, mover, {"city": "北京"}, actor="user:ops")
        outcome = refresh.refresh_incremental(s, TZ, now=NOW + timedelta(minutes=1))
        assert outcome is not None and mover in outcome.changed and outcome.entered[f"segment:{segment.id}"] == 1
        assert mover in _open(s, segment.id)

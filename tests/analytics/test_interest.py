"""Content-interest scores and tags against a plain reference: weights, decay by half-life, bought-after, top N."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from factories import make_customer, make_identity
from sqlalchemy import Engine, select

from siyu.analytics import interest
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.events.models import Event
from siyu.domains.identity.models import Identity
from siyu.domains.orders.models import Order
from siyu.domains.tags import service as tags
from siyu.domains.tags.models import CustomerTag, InterestScore, Tag
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 March in Shanghai
TOPICS = ("新品", "茶知识", "门店", "会员", "礼盒")


def _brand(s, vault: PiiVault, rng: random.Random) -> list[int]:
    ids = []
    for i in range(25):
        customer = make_customer(s, vault)
        ids.append(customer.id)
        ident = make_identity(s, vault, customer.id, "unionid", f"u{i}")
        for k in range(rng.randrange(0, 12)):
            at = NOW - timedelta(days=rng.randrange(0, 90), minutes=rng.randrange(-120, 600))
            props = {"topic": rng.choice(TOPICS), "content_id": f"c{k}"} if rng.random() < 0.85 else \
                {"category": rng.choice(TOPICS)} if rng.random() < 0.5 else {"topic": 3}
            s.add(Event(event_id=f"e{i}-{k}", type=rng.choice([*interest.ACTIONS, "page_viewed"]), occurred_at=at,
                        received_at=NOW, identity_id=ident.id, properties=props))
        for k in range(rng.randrange(0, 3)):
            at = NOW - timedelta(days=rng.randrange(0, 60), hours=rng.randrange(24))
            s.add(Order(order_id=f"o{i}-{k}", identity_id=ident.id, amount_fen=100, refunded_fen=0, status="paid",
                        placed_at=at, paid_at=at, updated_at=at))
    s.flush()
    return ids


def _reference(s, params: interest.InterestParams, now: datetime) -> dict[int, dict[str, float]]:
    """Score every customer the plain way: one loop over events, one over orders."""
    owner = {i.id: i.customer_id for i in s.scalars(select(Identity))}
    today = now.astimezone(TZ).date()
    out: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    acted: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for e in s.scalars(select(Event)):
        topic = e.properties.get("topic") if isinstance(e.properties.get("topic"), str) else e.properties.get("category")
        if e.type not in interest.ACTIONS or not isinstance(topic, str) or e.occurred_at > now:
            continue
        age = (today - e.occurred_at.astimezone(TZ).date()).days
        out[owner[e.identity_id]][topic] += interest.ACTIONS[e.type] * 0.5 ** (age / params.half_life_days)
        acted[owner[e.identity_id]].append((e.occurred_at, topic))
    for o in s.scalars(select(Order)):
        cid = owner[o.identity_id]
        if o.paid_at is None or o.paid_at > now:
            continue
        bought = {t for at, t in acted[cid] if o.paid_at - timedelta(days=params.attribution_days) <= at <= o.paid_at}
        age = (today - o.paid_at.astimezone(TZ).date()).days
        for topic in bought:
            out[cid][topic] += 8.0 * 0.5 ** (age / params.half_life_days)
    return out


def _interest_tags(s) -> dict[int, set[str]]:
    held: dict[int, set[str]] = defaultdict(set)
    for cid, name in s.execute(select(CustomerTag.customer_id, Tag.name).join(Tag, Tag.id == CustomerTag.tag_id)
                               .where(CustomerTag.removed_at.is_(None), Tag.kind == "interest")):
        held[cid].add(name)
    return held


@pytest.mark.parametrize("half_life", [7.0, 30.0])
def test_scores_and_tags_match_the_reference(db_engine: Engine, settings: Settings, half_life: float) -> None:
    vault = PiiVault(settings.effective_secret_key)
    params = interest.InterestParams(half_life_days=half_life, top=2, min_score=1.0)
    with unit_of_work(db_engine) as s:
        _brand(s, vault, random.Random(3))
        outcome = interest.refresh(s, TZ, params, now=NOW)
        want = _reference(s, params, NOW)
        got = {(r.customer_id, r.topic): r.score for r in s.scalars(select(InterestScore))}
        assert got.keys() == {(c, t) for c, topics in want.items() for t in topics}
        for (cid, topic), score in got.items():
            assert score == pytest.approx(want[cid][topic], abs=1e-6)  # stored to 6 decimals
        expected_tags = {cid: {interest.PREFIX + t for t in sorted(topics, key=lambda t: (-topics[t], t))[:2]
                               if topics[t] >= 1.0} for cid, topics in want.items()}
        assert _interest_tags(s) == {c: t for c, t in expected_tags.items() if t}
        assert outcome.tagged == sum(1 for t in expected_tags.values() if t) > 5
        assert all(t.group_name == "兴趣" for t in s.scalars(select(Tag).where(Tag.kind == "interest")))


def test_interests_decay_and_tags_are_lost_with_history(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    params = interest.InterestParams(half_life_days=10.0, top=3, min_score=1.0)
    with unit_of_work(db_engine) as s:
        customer = make_customer(s, vault)
        ident = make_identity(s, vault, customer.id, "unionid", "u-decay")
        s.add(Event(event_id="fav", type="content_favourited", occurred_at=NOW - timedelta(minutes=30), received_at=NOW,
                    identity_id=ident.id, properties={"topic": "礼盒"}))  # weight 4
        s.flush()
        interest.refresh(s, TZ, params, now=NOW)
        assert _interest_tags(s)[customer.id] == {"兴趣:礼盒"}
        score = s.scalar(select(InterestScore.score))
        assert score == pytest.approx(4.0)
        later = NOW + timedelta(days=20)  # two half-lives: 4 -> 1, still a tag
        interest.refresh(s, TZ, params, now=later)
        assert s.scalar(select(InterestScore.score)) == pytest.approx(1.0)
        assert _interest_tags(s)[customer.id] == {"兴趣:礼盒"}
        fading = NOW + timedelta(days=21)
        interest.refresh(s, TZ, params, customers=[customer.id], now=fading)  # below 1: the tag is lost
        assert customer.id not in _interest_tags(s)
        rows = tags.tag_history(s, "兴趣:礼盒", customer_id=customer.id)
        assert [(r.added_at, r.removed_at, r.source) for r in rows] == [(NOW, fading, "interest")]


def test_incremental_equals_full(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    params = interest.InterestParams()
    with unit_of_work(db_engine) as s:
        ids = _brand(s, vault, random.Random(9))
        interest.refresh(s, TZ, params, now=NOW)
        full = {(r.customer_id, r.topic, round(r.score, 6)) for r in s.scalars(select(InterestScore))}
        tags_full = _interest_tags(s)
        interest.refresh(s, TZ, params, customers=ids[::2], now=NOW)
        assert {(r.customer_id, r.topic, round(r.score, 6)) for r in s.scalars(select(InterestScore))} == full
        assert _interest_tags(s) == tags_full

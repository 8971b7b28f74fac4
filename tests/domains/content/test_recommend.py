"""Smart push: the bandit converges on simulated feedback (seeded), explanations add up, portraits and exclusions."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from factories import T0, make_api_key, make_customer, make_group_membership, make_order
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.content import best_item, prepare_sends, recommend
from siyu.domains.content.models import ContentItem
from siyu.domains.identity.models import Identity
from siyu.domains.content.models import ContentClick, ContentLink
from siyu.domains.content.recommend import Arm, Portrait, Weights, arms, choose, interest_match, stage_fit
from siyu.domains.scores.models import CustomerScore
from siyu.domains.tags.models import InterestScore
from siyu.kit.crypto import PiiVault
from siyu.web.app import create_app


def _item(i: int, topics: list[str] | None = None, stages: list[str] | None = None) -> ContentItem:
    return ContentItem(id=i, kind="text", title=f"item {i}", body="", topics=topics or [], stages=stages or [])


def test_bandit_converges_to_the_better_item_on_simulated_feedback() -> None:
    rng, world = random.Random(7), random.Random(11)
    items = [_item(1), _item(2), _item(3)]
    true_rate = {1: 0.05, 2: 0.30, 3: 0.10}
    evidence = {i.id: [0, 0] for i in items}
    picks: list[int] = []
    for _ in range(1500):
        arms = {(k, "none"): Arm(sends=n, clicks=c, conversions=0) for k, (n, c) in evidence.items()}
        chosen = choose(items, Portrait({}, None), arms, rng).content_id
        assert chosen is not None
        picks.append(chosen)
        evidence[chosen][0] += 1
        evidence[chosen][1] += world.random() < true_rate[chosen]
    late = Counter(picks[-300:])
    assert late[2] >= 270  # at least 90% of the last 300 choices go to the best item
    assert Counter(picks[:30])[1] >= 1 and Counter(picks[:30])[3] >= 1  # it explored the others early


def test_explanations_add_up_and_parts_are_what_the_docs_say() -> None:
    items = [_item(1, ["护肤", "新品"], ["interest"]), _item(2, ["母婴"], ["loyalty"]), _item(3)]
    portrait = Portrait({"护肤": 6.0, "彩妆": 12.0}, "interest", frozenset({3}))
    arms = {(1, "interest"): Arm(sends=10, clicks=4, conversions=1)}
    choice = choose(items, portrait, arms, random.Random(3))
    by_id = {c.content_id: c for c in choice.candidates}
    assert by_id[3].excluded == "seen_recently" and by_id[3].parts is None
    one, two = by_id[1].parts, by_id[2].parts
    assert one is not None and two is not None
    assert (one.interest_match, one.matched_topics, one.stage_fit) == (0.5, ["护肤"], 1.0)
    assert (two.interest_match, two.matched_topics, two.stage_fit) == (0.0, [], 0.0)
    assert one.posterior["click_alpha"] == 5 and one.posterior["click_beta"] == 7
    assert one.posterior["conversion_alpha"] == 2 and one.posterior["conversion_beta"] == 10
    for parts in (one, two):
        w = Weights()
        assert parts.total == pytest.approx(w.interest * parts.interest_match + w.stage * parts.stage_fit
                                            + w.bandit * parts.bandit_sample, abs=1e-5)
        assert parts.bandit_sample == pytest.approx(
            (parts.posterior["click_draw"] + parts.posterior["conversion_draw"]) / 2, abs=1e-5)
    assert choice.content_id == max((c for c in choice.candidates if c.parts), key=lambda c: c.parts.total).content_id
    assert choice.candidates[-1].content_id == 3  # excluded ones last
    # the same seed and data give the same choice and draws
    again = choose(items, portrait, arms, random.Random(3))
    assert [c.parts for c in again.candidates] == [c.parts for c in choice.candidates]


def test_part_rules() -> None:
    assert interest_match(["a", "b"], {"a": 1.0, "b": 4.0, "c": 8.0}) == (0.5, ["a", "b"])
    assert interest_match(["a"], {}) == (0.0, [])
    assert stage_fit([], "loyalty") == 0.5 and stage_fit(["loyalty"], None) == 0.5
    assert stage_fit(["loyalty"], "loyalty") == 1.0 and stage_fit(["awareness"], "loyalty") == 0.0


@pytest.fixture
def brand(db_engine: Engine, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], dict[str, int]]]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        _, admin = make_api_key(s, "admin")
        skin = ContentItem(kind="text", title="护肤", body="", topics=["护肤"], stages=["interest"], created_by="t",
                           created_at=T0, updated_at=T0)
        baby = ContentItem(kind="text", title="母婴", body="", topics=["母婴"], stages=[], created_by="t",
                           created_at=T0, updated_at=T0)
        s.add_all([skin, baby])
        s.flush()
        ids = {"skin": skin.id, "baby": baby.id}
        for name, topic in (("a", "护肤"), ("b", "母婴"), ("c", "母婴")):
            c = make_customer(s, vault, identities={"external_userid": f"wm{name}000001"})
            ids[name] = c.id
            s.add(InterestScore(customer_id=c.id, topic=topic, score=5.0, computed_at=T0))
            s.add(CustomerScore(customer_id=c.id, as_of=T0, computed_at=T0, aipl_stage="interest"))
            ident = s.query(Identity).filter_by(customer_id=c.id).one()
            group = make_group_membership(s, ident, "chat-mums")
            ids["group"] = group.id
    app = create_app(settings, db_engine)
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {admin}"}, ids


def test_recommend_api_matches_interests_excludes_recent_and_reads_groups(
        brand: tuple[TestClient, dict[str, str], dict[str, int]], db_engine: Engine, settings: Settings) -> None:
    client, h, ids = brand
    r = client.get(f"/api/v1/content/recommend?customer_id={ids['a']}&seed=1", headers=h).json()
    assert r["content_id"] == ids["skin"] and r["segment"] == "interest"
    parts = {c["content_id"]: c["parts"] for c in r["candidates"]}
    assert parts[ids["skin"]]["matched_topics"] == ["护肤"] and parts[ids["skin"]]["interest_match"] == 1.0
    # the group's portrait is its members' mean: 母婴 10/3 beats 护肤 5/3
    g = client.get(f"/api/v1/content/recommend?group_id={ids['group']}&seed=1", headers=h).json()
    gparts = {c["content_id"]: c["parts"] for c in g["candidates"]}
    assert gparts[ids["baby"]]["interest_match"] == 1.0 and gparts[ids["skin"]]["interest_match"] == 0.5
    with unit_of_work(db_engine) as s:  # sent the skin item to a yesterday: excluded for her now
        prepare_sends(s, settings, ids["skin"], {ids["a"]: "t:1"}, source="manual",
                      now=T0.replace(year=2099) - timedelta(days=1))
        later = recommend(s, [ids["a"]], now=T0.replace(year=2099))
    assert later.content_id == ids["baby"]
    assert [c.excluded for c in later.candidates if c.content_id == ids["skin"]] == ["seen_recently"]
    bad = [client.get("/api/v1/content/recommend", headers=h),
           client.get(f"/api/v1/content/recommend?customer_id={ids['a']}&group_id={ids['group']}", headers=h),
           client.get(f"/api/v1/content/recommend?customer_id={ids['a']}&collection=nope", headers=h),
           client.get("/api/v1/content/recommend?customer_id=999999", headers=h)]
    assert [(b.status_code, b.json()["error"]["code"]) for b in bad] == [
        (422, "invalid_audience"), (422, "invalid_audience"), (404, "collection_not_found"), (404, "customer_not_found")]


def test_arms_count_sends_clicks_and_conversions_per_stage(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        item = ContentItem(kind="text", title="x", body="", url="https://b.example/x", created_by="t", created_at=T0,
                           updated_at=T0)
        s.add(item)
        s.flush()
        people = [make_customer(s, vault, identities={"external_userid": f"wmArm{i}00001"}).id for i in range(3)]
        s.add(CustomerScore(customer_id=people[2], as_of=T0, computed_at=T0, aipl_stage="loyalty"))
        s.flush()
        prepare_sends(s, settings, item.id, {c: f"arm:{c}" for c in people}, source="t", now=T0)
        link = s.scalar(select(ContentLink).where(ContentLink.send_key == f"arm:{people[0]}"))
        for n in range(2):  # two clicks on one send count once
            s.add(ContentClick(click_id=f"k{n}", link_id=link.id, content_id=item.id, customer_id=people[0],
                               send_key=link.send_key, clicked_at=T0 + timedelta(hours=n + 1)))
        for who, days in ((people[1], 2), (people[0], 8), (people[2], 6)):  # 8 days: outside the 7-day window
            make_order(s, s.scalar(select(Identity).where(Identity.customer_id == who)), 1000,
                       placed_at=T0 + timedelta(days=days))
        s.flush()
        got = arms(s, [item.id])
    assert got == {(item.id, "none"): Arm(sends=2, clicks=1, conversions=1),
                   (item.id, "loyalty"): Arm(sends=1, clicks=0, conversions=1)}


def test_best_item_of_a_collection_for_journeys(brand: tuple[TestClient, dict[str, str], dict[str, int]],
                                                db_engine: Engine) -> None:
    client, h, ids = brand
    client.post("/api/v1/content/collections", json={"name": "母婴专区", "items": [ids["baby"]]}, headers=h)
    with unit_of_work(db_engine) as s:
        assert best_item(s, ids["a"], "母婴专区", rng=random.Random(1)) == ids["baby"]  # the only item there
        assert best_item(s, ids["a"], rng=random.Random(1)) == ids["skin"]  # the whole library: her interest wins

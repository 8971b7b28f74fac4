"""Segments and tags over HTTP: stable codes for bad rules, previews, members and history, staff scoping, tags."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from domains.segments.brand import build
from factories import as_principal, make_api_key, staff_principal
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.customers.models import Customer
from siyu.domains.identity.models import Identity
from siyu.domains.staff.models import Ownership, Staff
from siyu.kit.crypto import PiiVault
from siyu.web.app import create_app

CITY = {"attribute": "city", "op": "eq", "value": "上海"}


@pytest.fixture
def api(db_engine: Engine, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with unit_of_work(db_engine) as s:
        build(s, PiiVault(settings.effective_secret_key))
        _, admin = make_api_key(s, "admin")
        _, ingest = make_api_key(s, "ingest", name="ingest")
    app = create_app(settings, db_engine)
    with TestClient(app) as client:
        yield client, {"admin": f"Bearer {admin}", "ingest": f"Bearer {ingest}"}


def test_create_list_show_and_members(api: tuple[TestClient, dict[str, str]], db_engine: Engine) -> None:
    client, keys = api
    h = {"Authorization": keys["admin"]}
    made = client.post("/api/v1/segments", json={"name": "上海", "rule": CITY}, headers=h)
    assert made.status_code == 201, made.text
    body = made.json()
    with unit_of_work(db_engine, write=False) as s:
        shanghai = set(s.scalars(select(Customer.id).where(Customer.city == "上海", Customer.merged_into_id.is_(None))))
    assert body["members"] == len(shanghai) > 0 and body["refreshed_at"]
    listed = client.get("/api/v1/segments", headers=h).json()["items"]
    assert [i["name"] for i in listed] == ["stored", "上海"]
    seen, cursor = set(), None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/segments/{body['id']}/members", params=params, headers=h).json()
        seen |= {m["customer"]["id"] for m in page["items"]}
        if not (cursor := page["next_cursor"]):
            break
    assert seen == shanghai
    stays = client.get(f"/api/v1/segments/{body['id']}/history", headers=h).json()["items"]
    assert {s["customer_id"] for s in stays} == shanghai and all(s["exited_at"] is None for s in stays)
    renamed = client.patch(f"/api/v1/segments/{body['id']}", json={"name": "沪上"}, headers=h)
    assert renamed.json()["name"] == "沪上"
    assert client.post(f"/api/v1/segments/{body['id']}/refresh", headers=h).json() == {"entered": 0, "exited": 0}


def test_bad_rules_answer_422_with_the_path(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    h = {"Authorization": keys["admin"]}
    bad = client.post("/api/v1/segments/preview", json={"rule": {"all": [CITY, {"event": "content_viewed",
                                                                                "window": {"last_days": 0}}]}}, headers=h)
    assert bad.status_code == 422
    err = bad.json()["error"]
    assert err["code"] == "invalid_rule"
    assert err["details"]["errors"] == [{"path": "$.all[1].window.last_days", "code": "invalid_value",
                                         "message": "expected a whole number from 1 to 3660, got 0"}]
    unknown = client.post("/api/v1/segments", json={"name": "x", "rule": {"tag": "没有这个"}}, headers=h)
    assert unknown.status_code == 422 and unknown.json()["error"]["details"]["errors"][0]["code"] == "unknown_tag"
    extra = client.post("/api/v1/segments", json={"name": "x", "rule": CITY, "colour": 1}, headers=h)
    assert extra.status_code == 422
    dup = client.post("/api/v1/segments", json={"name": "stored", "rule": CITY}, headers=h)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "segment_exists"
    assert client.get("/api/v1/segments/999", headers=h).json()["error"]["code"] == "segment_not_found"
    ingest = client.post("/api/v1/segments/preview", json={"rule": CITY}, headers={"Authorization": keys["ingest"]})
    assert ingest.status_code == 403


def test_preview_counts_and_staff_see_only_their_customers(api: tuple[TestClient, dict[str, str]],
                                                           db_engine: Engine) -> None:
    client, keys = api
    preview = client.post("/api/v1/segments/preview", json={"rule": {"identity": "phone"}, "sample": 3},
                          headers={"Authorization": keys["admin"]}).json()
    with unit_of_work(db_engine, write=False) as s:
        phones = set(s.scalars(select(Identity.customer_id).where(Identity.kind == "phone")))
        staff_id = s.scalar(select(Staff.id).where(Staff.userid == "s0"))
        followed = set(s.scalars(select(Identity.customer_id).join(Ownership, Ownership.identity_id == Identity.id)
                                 .where(Ownership.staff_id == staff_id, Ownership.removed_at.is_(None))))
    assert preview["count"] == len(phones) and [c["id"] for c in preview["sample"]] == sorted(phones, reverse=True)[:3]
    staff = as_principal(client.app, staff_principal(staff_id))
    mine = staff.post("/api/v1/segments/preview", json={"rule": {"identity": "phone"}, "sample": 100}).json()
    assert {c["id"] for c in mine["sample"]} == phones & followed and mine["count"] == len(phones & followed)
    members = staff.get("/api/v1/segments/1/members", params={"limit": 200}).json()["items"]
    assert {m["customer"]["id"] for m in members} <= followed
    assert staff.post("/api/v1/segments", json={"name": "mine", "rule": CITY}).json()["error"]["code"] == \
        "insufficient_role"


def test_tags_groups_rule_tags_and_tagging_a_segment(api: tuple[TestClient, dict[str, str]], db_engine: Engine) -> None:
    client, keys = api
    h = {"Authorization": keys["admin"]}
    assert client.post("/api/v1/tags/groups", json={"name": "等级", "exclusive": True}, headers=h).status_code == 201
    for name in ("金卡", "银卡"):
        assert client.post("/api/v1/tags", json={"name": name, "group": "等级"}, headers=h).status_code == 201
    assert client.post("/api/v1/tags/金卡/customers", json={"customer_ids": [1, 2]}, headers=h).json() == {"changed": 2}
    assert client.post("/api/v1/tags/银卡/customers", json={"customer_ids": [2]}, headers=h).json() == {"changed": 1}
    held = {t["name"]: t["holders"] for t in client.get("/api/v1/tags", headers=h).json()["items"]}
    assert (held["金卡"], held["银卡"]) == (1, 1)  # exclusive: 银卡 ended customer 2's 金卡
    history = client.get("/api/v1/tags/金卡/history", params={"customer_id": 2}, headers=h).json()["items"]
    assert len(history) == 1 and history[0]["removed_at"] is not None
    rule_tag = client.post("/api/v1/tags/rules", json={"name": "沪客", "group": "地区", "rule": CITY}, headers=h)
    assert rule_tag.status_code == 201 and rule_tag.json()["kind"] == "rule" and rule_tag.json()["holders"] > 0
    refused = client.post("/api/v1/tags/rules", json={"name": "x", "group": "等级", "rule": CITY}, headers=h)
    assert refused.json()["error"]["code"] == "exclusive_group"
    manual_on_rule = client.post("/api/v1/tags/沪客/customers", json={"customer_ids": [1]}, headers=h)
    assert manual_on_rule.json()["error"]["code"] == "tag_not_manual"
    created = client.post("/api/v1/segments", json={"name": "上海", "rule": CITY}, headers=h).json()
    assert client.post("/api/v1/tags", json={"name": "活动A"}, headers=h).status_code == 201
    tagged = client.post(f"/api/v1/segments/{created['id']}/tag", json={"tag": "活动A"}, headers=h).json()
    assert tagged == {"added": created["members"]}
    renamed = client.patch("/api/v1/tags/groups/等级", json={"name": "会员等级"}, headers=h).json()["items"]
    assert {"name": "会员等级", "exclusive": True, "tags": 2} in renamed
    with unit_of_work(db_engine, write=False) as s:
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"tag.apply_many", "tag_group.create", "tag_group.rename", "segment.create"} <= actions

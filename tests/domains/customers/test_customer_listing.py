"""GET /customers: exact identity look-up, filters, keyset paging."""

from __future__ import annotations

import random

import pytest
from factories import at, make_customer, make_identity, make_tag
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.kit.crypto import PiiVault

from .conftest import World


def _ids(client: TestClient, **params: object) -> list[int]:
    response = client.get("/api/v1/customers", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _error(client: TestClient, **params: object) -> tuple[int, str]:
    response = client.get("/api/v1/customers", params=params)
    return response.status_code, response.json()["error"]["code"]


def test_lists_live_customers_newest_first_with_masked_names(admin: TestClient, world: World) -> None:
    body = admin.get("/api/v1/customers").json()
    assert [i["id"] for i in body["items"]] == [world.wang, world.li, world.zhang]  # no tombstone
    assert [i["name"] for i in body["items"]] == ["王*", "李*", "张*"]
    assert body["next_cursor"] is None


def test_identity_lookup_normalises_the_value(admin: TestClient, world: World) -> None:
    assert _ids(admin, identity="phone:+86 138-1234-5678") == [world.zhang]
    assert _ids(admin, identity="unionid:unionWANG01") == [world.wang]
    assert _ids(admin, identity="phone:13700000000") == []


def test_identity_lookup_of_a_kind_with_a_colon(admin: TestClient, world: World, db_engine: Engine,
                                                vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        cid = make_customer(s, vault).id
        make_identity(s, vault, cid, "openid:wxapp01", "oOPENID12345")
    assert _ids(admin, identity="openid:wxapp01:oOPENID12345") == [cid]


@pytest.mark.parametrize(("value", "code"), [
    ("phone:12345", "invalid_identity"),
    ("shoe_size:42", "unknown_identity_kind"),
    ("13812345678", "invalid_identity_filter"),
    ("phone:13800138000", "junk_identity"),  # a configured test number
])
def test_identity_lookup_refuses_bad_values(admin: TestClient, world: World, value: str, code: str) -> None:
    assert _error(admin, identity=value) == (422, code)


def test_filters(admin: TestClient, world: World) -> None:
    assert _ids(admin, owner="alice") == [world.zhang]  # alice no longer follows wang
    assert _ids(admin, owner="bob") == [world.li]
    assert _ids(admin, owner="nobody") == []
    assert _ids(admin, tag="VIP") == [world.zhang]
    assert _ids(admin, tag="老客") == [world.zhang]  # held by a tombstone merged into zhang
    assert _ids(admin, channel_code=world.code) == [world.zhang]
    assert _ids(admin, group="chatX") == [world.zhang]
    assert _ids(admin, group="chatOld") == []  # left
    assert _ids(admin, source="douyin") == [world.zhang]
    assert _ids(admin, name="张三") == [world.zhang]
    assert _ids(admin, added_from=at(50).isoformat(), added_to=at(200).isoformat()) == [world.li]
    assert _ids(admin, added_from="2026-01-01T08:00:00+08:00", added_to="2026-01-01T08:00:01+08:00") == [world.zhang]
    assert _ids(admin, owner="alice", tag="VIP", source="douyin", group="chatX") == [world.zhang]
    assert _ids(admin, owner="bob", tag="VIP") == []


def test_bad_time_filter_is_422(admin: TestClient, world: World) -> None:
    assert _error(admin, added_from="yesterday") == (422, "invalid_time")
    assert _error(admin, added_to="2026-01-01T00:00:00") == (422, "invalid_time")  # no offset


def _all_pages(client: TestClient, limit: int, **params: object) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/customers", params=query).json()
        assert len(body["items"]) <= limit
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_paging_has_no_duplicates_or_omissions(admin: TestClient, world: World, db_engine: Engine,
                                               vault: PiiVault) -> None:
    rng = random.Random(7)
    live, tagged = [world.wang, world.li, world.zhang], [world.zhang]
    with unit_of_work(db_engine) as s:
        for n in range(57):
            merged_into = rng.choice(live) if n % 9 == 4 else None
            c = make_customer(s, vault, first_seen_at=at(1000 + n), merged_into_id=merged_into)
            if merged_into is None:
                live.append(c.id)
            if n % 3 == 0:
                make_tag(s, c, "VIP")
                if merged_into is None:
                    tagged.append(c.id)
                elif merged_into not in tagged:
                    tagged.append(merged_into)
    for limit in (1, 5, 7, 200):
        assert _all_pages(admin, limit) == sorted(live, reverse=True)
    assert _all_pages(admin, 4, tag="VIP") == sorted(tagged, reverse=True)


def test_limit_is_bounded(admin: TestClient, world: World) -> None:
    assert admin.get("/api/v1/customers", params={"limit": 0}).status_code == 422
    assert admin.get("/api/v1/customers", params={"limit": 201}).status_code == 422

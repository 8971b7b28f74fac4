"""Channel codes over HTTP: CRUD, validation codes, stats, next assignee."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.service import create_api_key
from siyu.web.app import create_app

CODE = {"name": "小红书笔记", "platform": "xiaohongshu", "strategy": "round_robin",
        "pool": [{"userid": "a"}, {"userid": "b", "weight": 2, "daily_cap": 30}], "tags": ["小红书"],
        "working_hours": {"mon": [["09:00", "18:00"]]}, "backup": ["c"], "welcome_template": "你好 {customer_name}"}


@pytest.fixture
def client(settings: Settings, db_engine: Engine) -> Iterator[TestClient]:
    with unit_of_work(db_engine) as s:
        _, token = create_api_key(s, "admin", ["admin"])
    with TestClient(create_app(settings, db_engine)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        for u in ("a", "b", "c"):
            assert c.post("/api/v1/staff", json={"userid": u, "name": u.upper()}).status_code == 201
        yield c


def test_crud(client: TestClient) -> None:
    r = client.post("/api/v1/channel-codes", json={**CODE, "state": "xhs-01"})
    assert r.status_code == 201, r.text
    code = r.json()
    assert code["state"] == "xhs-01" and code["active"] is True
    assert [(m["userid"], m["weight"], m["daily_cap"]) for m in code["pool"]] == [("a", 1, None), ("b", 2, 30)]
    assert [b["userid"] for b in code["backup"]] == ["c"]
    assert client.get(f"/api/v1/channel-codes/{code['id']}").json()["name"] == "小红书笔记"
    r = client.patch(f"/api/v1/channel-codes/{code['id']}", json={"strategy": "weighted", "tags": []})
    assert (r.json()["strategy"], r.json()["tags"], r.json()["state"]) == ("weighted", [], "xhs-01")
    listed = client.get("/api/v1/channel-codes", params={"platform": "xiaohongshu"}).json()
    assert [c["id"] for c in listed["items"]] == [code["id"]]
    assert client.delete(f"/api/v1/channel-codes/{code['id']}").json()["active"] is False
    assert client.get("/api/v1/channel-codes", params={"active": True}).json()["items"] == []
    assert client.get("/api/v1/channel-codes/999").status_code == 404


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"state": "x" * 31}, 422, "invalid_state"),
    ({"pool": []}, 422, "empty_pool"),
    ({"pool": [{"userid": "zz"}]}, 422, "unknown_staff"),
    ({"strategy": "lottery"}, 422, "invalid_strategy"),
    ({"working_hours": {"mon": [["18:00", "09:00"]]}}, 422, "invalid_working_hours"),
    ({"colour": "red"}, 422, "validation_error"),
    ({"pool": [{"userid": "a", "cap": 3}]}, 422, "validation_error"),
])
def test_validation(client: TestClient, change: dict, status: int, code: str) -> None:
    r = client.post("/api/v1/channel-codes", json={**CODE, **change})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)


def test_duplicate_state_is_409(client: TestClient) -> None:
    assert client.post("/api/v1/channel-codes", json={**CODE, "state": "s1"}).status_code == 201
    r = client.post("/api/v1/channel-codes", json={**CODE, "state": "s1"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "duplicate_state")


def test_next_assignee_and_stats(client: TestClient) -> None:
    code_id = client.post("/api/v1/channel-codes", json=CODE).json()["id"]
    monday_10 = "2026-01-05T10:00:00+08:00"
    picks = [client.post(f"/api/v1/channel-codes/{code_id}/next-assignee", json={"at": monday_10}).json()
             for _ in range(3)]
    assert [(p["userid"], p["via"]) for p in picks] == [("a", "pool"), ("b", "pool"), ("a", "pool")]
    night = client.post(f"/api/v1/channel-codes/{code_id}/next-assignee", json={"at": "2026-01-05T20:00:00+08:00"})
    assert (night.json()["userid"], night.json()["via"]) == ("c", "backup")
    assert client.post(f"/api/v1/channel-codes/{code_id}/next-assignee").status_code == 200
    naive = client.post(f"/api/v1/channel-codes/{code_id}/next-assignee", json={"at": "2026-01-05T10:00:00"})
    assert naive.status_code == 422
    stats = client.get(f"/api/v1/channel-codes/{code_id}/stats", params={"days": 7}).json()
    assert len(stats["days"]) == 7 and (stats["added"], stats["lost"], stats["active"]) == (0, 0, 0)
    assert client.get(f"/api/v1/channel-codes/{code_id}/stats", params={"days": 0}).status_code == 422


def test_landing_url_and_link_over_the_api(client: TestClient, settings: Settings) -> None:
    r = client.post("/api/v1/channel-codes", json={**CODE, "state": "parcel-01",
                                                   "landing_url": "https://work.weixin.qq.com/ca/abc"})
    code = r.json()
    assert (code["landing_url"], code["landing_link"]) == ("https://work.weixin.qq.com/ca/abc",
                                                           f"{settings.public_url}/c/parcel-01")
    bad = client.patch(f"/api/v1/channel-codes/{code['id']}", json={"landing_url": "ftp://x"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_landing_url")
    cleared = client.patch(f"/api/v1/channel-codes/{code['id']}", json={"landing_url": None}).json()
    assert cleared["landing_url"] is None
    assert client.get("/c/parcel-01", follow_redirects=False).status_code == 200  # not linked: a notice page

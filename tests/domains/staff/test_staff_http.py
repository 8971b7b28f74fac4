"""Staff over HTTP: create, list, update, depart with inheritance, transfer; auth and 422s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from factories import make_customer, make_identity, make_ownership
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.service import create_api_key
from siyu.domains.staff.models import Staff
from siyu.kit.crypto import PiiVault
from siyu.web.app import create_app


@pytest.fixture
def tokens(db_engine: Engine) -> dict[str, str]:
    with unit_of_work(db_engine) as s:
        return {scope: create_api_key(s, scope, [scope])[1] for scope in ("admin", "ingest")}


@pytest.fixture
def client(settings: Settings, db_engine: Engine, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db_engine)) as c:
        c.headers["Authorization"] = f"Bearer {tokens['admin']}"
        yield c


def _identities(engine: Engine, settings: Settings, owner_userid: str, n: int) -> list[int]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(engine) as s:
        owner = s.query(Staff).filter_by(userid=owner_userid).one()
        ids = []
        for _ in range(n):
            c = make_customer(s, vault)
            identity = make_identity(s, vault, c.id, "external_userid", f"wm{c.id}")
            make_ownership(s, identity, owner)
            ids.append(identity.id)
        return ids


def test_create_list_update(client: TestClient) -> None:
    r = client.post("/api/v1/staff", json={"userid": "zs", "name": "张三", "store": "上海店"})
    assert r.status_code == 201, r.text
    staff_id = r.json()["id"]
    assert r.json()["status"] == "active"
    again = client.post("/api/v1/staff", json={"userid": "zs", "name": "again"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "staff_exists")
    assert client.patch(f"/api/v1/staff/{staff_id}", json={"department": "销售"}).json()["department"] == "销售"
    listed = client.get("/api/v1/staff", params={"store": "上海店"}).json()
    assert [s["userid"] for s in listed["items"]] == ["zs"] and listed["next_cursor"] is None
    assert client.get("/api/v1/staff/999").status_code == 404


def test_unknown_fields_are_422(client: TestClient) -> None:
    r = client.post("/api/v1/staff", json={"userid": "zs", "name": "张三", "nickname": "x"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"


def test_needs_admin_scope(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/v1/staff", headers={"Authorization": f"Bearer {tokens['ingest']}"}).status_code == 403
    assert client.get("/api/v1/staff", headers={"Authorization": ""}).status_code == 401


def test_depart_with_inheritance_and_transfer(client: TestClient, db_engine: Engine, settings: Settings) -> None:
    ids = {u: client.post("/api/v1/staff", json={"userid": u, "name": u}).json()["id"] for u in ("a", "b", "c")}
    owned = _identities(db_engine, settings, "a", 3)
    r = client.post("/api/v1/staff/transfer", json={"from_userid": "a", "to_userid": "b", "identity_ids": owned[:1]})
    assert r.status_code == 201, r.text
    assert (r.json()["reason"], r.json()["customers"]) == ("in_service", 1)
    r = client.post(f"/api/v1/staff/{ids['a']}/depart", json={"inherit_to": "c"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["staff"]["status"] == "departed"
    assert (body["transfer"]["reason"], body["transfer"]["customers"], body["transfer"]["to_staff_id"]) == (
        "departure", 2, ids["c"])
    assert r.json()["transfer"]["actor"].startswith("apikey:")
    again = client.post(f"/api/v1/staff/{ids['a']}/depart")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_departed")
    recent = client.get("/api/v1/staff/transfers/recent", params={"staff_id": ids["a"]}).json()
    assert [t["reason"] for t in recent] == ["departure", "in_service"]


def test_transfer_needs_a_scope(client: TestClient) -> None:
    for u in ("a", "b"):
        client.post("/api/v1/staff", json={"userid": u, "name": u})
    r = client.post("/api/v1/staff/transfer", json={"from_userid": "a", "to_userid": "b"})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "transfer_scope")
    r = client.post("/api/v1/staff/transfer", json={"from_userid": "a", "to_userid": "nobody", "all": True})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "staff_not_found")

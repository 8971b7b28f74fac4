"""Staff users see only customers they actively follow: by id, look-up, listing, timeline, edits."""

from __future__ import annotations

import pytest
from factories import ANALYST, as_principal, staff_principal
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.access import Principal
from siyu.domains.customers import service
from siyu.domains.customers.schemas import CustomerFilter
from siyu.errors import NotFound

from .conftest import World


@pytest.fixture
def alice(app: FastAPI, world: World) -> TestClient:
    return as_principal(app, staff_principal(world.alice))


def _not_found(response: object) -> bool:
    return response.status_code == 404 and response.json()["error"]["code"] == "customer_not_found"  # type: ignore[attr-defined]


def test_staff_reads_own_customer_masked(alice: TestClient, world: World) -> None:
    body = alice.get(f"/api/v1/customers/{world.zhang}").json()
    assert body["id"] == world.zhang and body["pii"] == "masked"


def test_staff_gets_404_for_another_staff_members_customer(alice: TestClient, world: World) -> None:
    assert _not_found(alice.get(f"/api/v1/customers/{world.li}"))
    assert _not_found(alice.get(f"/api/v1/customers/{world.li}/timeline"))
    assert _not_found(alice.patch(f"/api/v1/customers/{world.li}", json={"city": "上海"}))


def test_staff_gets_404_once_the_follow_relation_ended(alice: TestClient, world: World) -> None:
    assert _not_found(alice.get(f"/api/v1/customers/{world.wang}"))


def test_staff_follows_a_merged_id_to_their_customer(alice: TestClient, world: World) -> None:
    assert alice.get(f"/api/v1/customers/{world.zhang_old}").json()["id"] == world.zhang


def test_staff_lookup_and_listing_are_scoped(alice: TestClient, world: World) -> None:
    def ids(**params: object) -> list[int]:
        return [i["id"] for i in alice.get("/api/v1/customers", params=params).json()["items"]]

    assert ids() == [world.zhang]
    assert ids(identity="phone:13812345678") == [world.zhang]
    assert ids(identity="phone:13912345678") == []  # li's phone: bob's customer
    assert ids(owner="bob") == []
    assert ids(name="李四") == []


def test_unscoped_reader_sees_everyone(app: FastAPI, world: World) -> None:
    ids = [i["id"] for i in as_principal(app, ANALYST).get("/api/v1/customers").json()["items"]]
    assert ids == [world.wang, world.li, world.zhang]


def test_service_enforces_scope_without_http(db_engine: Engine, world: World) -> None:
    bob = staff_principal(world.bob)
    with unit_of_work(db_engine) as s:
        assert [c.id for c in service.list_customers(s, bob, CustomerFilter()).items] == [world.li]
        with pytest.raises(NotFound):
            service.customer_timeline(s, bob, world.zhang)


def test_a_staff_principal_needs_a_staff_member() -> None:
    with pytest.raises(ValueError, match="staff_id"):
        Principal(actor="user:x", role="staff")


def test_analyst_cannot_edit(app: FastAPI, world: World) -> None:
    response = as_principal(app, ANALYST).patch(f"/api/v1/customers/{world.zhang}", json={"city": "上海"})
    assert (response.status_code, response.json()["error"]["code"]) == (403, "read_only")

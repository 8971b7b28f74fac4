"""update_profile and PATCH /customers/{id}: validation, encryption of the name, attribute merge."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from factories import make_customer
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.customers import Customer
from siyu.domains.customers.service import name_lookup, update_profile, update_profiles, validate_profile
from siyu.errors import NotFound, ValidationFailed
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow

from .conftest import World


def _update(engine: Engine, vault: PiiVault, customer_id: int, fields: dict[str, Any]) -> Customer:
    with unit_of_work(engine) as s:
        return update_profile(s, vault, customer_id, fields, actor="user:op")


def test_name_is_stored_encrypted_masked_and_blind_indexed(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        cid = make_customer(s, vault).id
    c = _update(db_engine, vault, cid, {"name": " 欧阳　娜娜 "})  # ideographic space folds to a plain one
    assert c.name_enc is not None and "欧阳" not in c.name_enc
    assert vault.decrypt(c.name_enc) == "欧阳 娜娜"
    assert c.name_masked == "欧****"
    assert c.name_idx == name_lookup(vault, "欧阳 娜娜") == name_lookup(vault, "欧阳  娜娜")
    cleared = _update(db_engine, vault, cid, {"name": None})
    assert (cleared.name_enc, cleared.name_idx, cleared.name_masked) == (None, None, None)


def test_fields_attributes_merge_and_audit(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        cid = make_customer(s, vault, attributes={"skin": "dry", "level": 1}).id
    c = _update(db_engine, vault, cid, {"gender": "female", "birthday": "1990-05-17", "region": "浙江", "city": "杭州",
                                        "attributes": {"level": 2, "skin": None, "pets": ["cat"]}})
    assert (c.gender, c.birthday, c.region, c.city) == ("female", date(1990, 5, 17), "浙江", "杭州")
    assert c.attributes == {"level": 2, "pets": ["cat"]}
    with unit_of_work(db_engine) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.update")).one()
        assert (entry.actor, entry.target_id) == ("user:op", str(cid))
        assert entry.detail == {"fields": ["attributes", "birthday", "city", "gender", "region"]}


def test_update_of_a_merged_id_writes_the_survivor(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        root = make_customer(s, vault).id
        dead = make_customer(s, vault, merged_into_id=root).id
    assert _update(db_engine, vault, dead, {"city": "成都"}).id == root
    with unit_of_work(db_engine) as s:
        assert s.get(Customer, root).city == "成都"  # type: ignore[union-attr]
        assert s.get(Customer, dead).city is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("fields", "code"), [
    ({"gender": "man"}, "invalid_gender"),
    ({"birthday": "1990-13-01"}, "invalid_birthday"),
    ({"birthday": (utcnow().date() + timedelta(days=1)).isoformat()}, "invalid_birthday"),
    ({"birthday": "1899-12-31"}, "invalid_birthday"),
    ({"name": "x" * 65}, "invalid_name"),
    ({"name": 42}, "invalid_name"),
    ({"city": "c" * 33}, "invalid_city"),
    ({"region": 7}, "invalid_region"),
    ({"attributes": ["a"]}, "invalid_attributes"),
    ({"attributes": {"": 1}}, "invalid_attributes"),
    ({"attributes": {"blob": "x" * 17000}}, "invalid_attributes"),
    ({"vip": True}, "unknown_field"),
])
def test_invalid_fields_are_refused(db_engine: Engine, vault: PiiVault, fields: dict[str, Any], code: str) -> None:
    with unit_of_work(db_engine) as s:
        cid = make_customer(s, vault).id
        with pytest.raises(ValidationFailed) as err:
            update_profile(s, vault, cid, fields)
        assert err.value.code == code


def test_patch_returns_the_new_profile(admin: TestClient, world: World) -> None:
    response = admin.patch(f"/api/v1/customers/{world.li}", json={"name": "李小四", "attributes": {"vip": True}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["attributes"]) == ("李小四", {"vip": True})
    assert [i["id"] for i in admin.get("/api/v1/customers", params={"name": "李小四"}).json()["items"]] == [world.li]


def test_patch_refuses_unknown_and_invalid_fields(admin: TestClient, world: World) -> None:
    unknown = admin.patch(f"/api/v1/customers/{world.li}", json={"vip": True})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "validation_error")
    bad = admin.patch(f"/api/v1/customers/{world.li}", json={"gender": "robot"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_gender")


def test_bulk_update_follows_merges_and_merges_attributes(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        a = make_customer(s, vault, attributes={"level": 1}).id
        b = make_customer(s, vault).id
        dead = make_customer(s, vault, merged_into_id=a).id
    with unit_of_work(db_engine) as s:
        changed = update_profiles(s, vault, [
            (a, {"city": "杭州", "attributes": {"skin": "dry"}}),
            (dead, {"city": "宁波", "name": "赵六", "attributes": {"pets": 2}}),  # same person as a: later wins
            (b, {"gender": "male"}),
        ])
        assert changed == 2
    with unit_of_work(db_engine) as s:
        ca, cb = s.get(Customer, a), s.get(Customer, b)
        assert ca is not None and cb is not None
        assert (ca.city, vault.decrypt(ca.name_enc or ""), ca.attributes) == ("宁波", "赵六", {"level": 1, "skin": "dry", "pets": 2})
        assert ca.updated_at > ca.created_at
        assert (cb.gender, cb.city) == ("male", None)
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.update")).all()
        assert (entry.actor, entry.detail) == ("import", {"customers": 2, "fields": ["attributes", "city", "gender", "name"]})


def test_bulk_update_validates_everything_first(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        a = make_customer(s, vault).id
        with pytest.raises(ValidationFailed):
            update_profiles(s, vault, [(a, {"city": "杭州"}), (a, {"gender": "robot"})])
        with pytest.raises(NotFound):
            update_profiles(s, vault, [(a, {"city": "杭州"}), (99999, {"city": "x"})])
        assert s.get(Customer, a).city is None  # type: ignore[union-attr]
        with pytest.raises(ValidationFailed):
            validate_profile(vault, {"birthday": "soon"})
        validate_profile(vault, {"birthday": "2000-02-29", "name": "钱七"})

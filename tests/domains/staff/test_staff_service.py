"""Staff: create/update/list, placeholders, follow relations, transfers and departure inheritance."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from factories import T0, make_channel_code, make_customer, make_identity, make_ownership, make_staff
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.identity.models import Identity
from siyu.domains.staff import service
from siyu.domains.staff.models import Ownership, Staff, StaffTransfer
from siyu.errors import SiyuError
from siyu.kit.crypto import PiiVault


@pytest.fixture
def vault(settings: Settings) -> PiiVault:
    return PiiVault(settings.effective_secret_key)


def _err(fn, *args, **kwargs) -> SiyuError:  # type: ignore[no-untyped-def]
    with pytest.raises(SiyuError) as info:
        fn(*args, **kwargs)
    return info.value


def _identities(engine: Engine, vault: PiiVault, n: int) -> list[int]:
    with unit_of_work(engine) as s:
        out = []
        for i in range(n):
            c = make_customer(s, vault)
            out.append(make_identity(s, vault, c.id, "external_userid", f"wm-{c.id}-{i}").id)
        return out


def _follow(engine: Engine, staff_id: int, identity_ids: list[int], code: bool = False) -> None:
    with unit_of_work(engine) as s:
        staff = s.get(Staff, staff_id)
        channel = make_channel_code(s) if code else None
        for iid in identity_ids:
            make_ownership(s, s.get(Identity, iid), staff, code=channel)


def _active(engine: Engine) -> set[tuple[int, int]]:
    with unit_of_work(engine) as s:
        rows = s.execute(select(Ownership.identity_id, Ownership.staff_id).where(Ownership.removed_at.is_(None)))
        return {(a, b) for a, b in rows}


def test_create_update_and_list(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        staff = service.create_staff(s, "zhang.san", "张三", department="销售", store="上海一店", actor="user:admin")
        service.create_staff(s, "li_si", "李四", store="北京店")
        service.update_staff(s, staff.id, store="上海二店", actor="user:admin")
        assert service.staff_by_userid(s, "zhang.san").store == "上海二店"
        assert [x.userid for x in service.list_staff(s, store="北京店").items] == ["li_si"]
        page = service.list_staff(s, limit=1)
        assert [x.userid for x in page.items] == ["zhang.san"] and page.next_cursor == staff.id
        assert [x.userid for x in service.list_staff(s, after_id=page.next_cursor).items] == ["li_si"]
    with unit_of_work(db_engine) as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["staff.create", "staff.create", "staff.update"]


def test_create_validation(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        service.create_staff(s, "dup", "Dup")
        assert _err(service.create_staff, s, "dup", "Again").code == "staff_exists"
        assert _err(service.create_staff, s, "has space", "X").code == "invalid_userid"
        assert _err(service.create_staff, s, "ok", " ").code == "invalid_name"
        assert _err(service.get_staff, s, 999).status == 404
        assert _err(service.list_staff, s, status="gone").code == "invalid_status"


def test_ensure_staff_creates_placeholders_once(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        known = make_staff(s, "known").id
        first = service.ensure_staff(s, ["known", "new1", "new2", "new1", "", "bad userid"])
        assert first["known"] == known and set(first) == {"known", "new1", "new2"}
        assert service.ensure_staff(s, ["new1"]) == {"new1": first["new1"]}
        assert service.get_staff(s, first["new2"]).name == "new2"
        # a placeholder is completed, not refused, when the real member is created
        filled = service.create_staff(s, "new1", "王五", store="杭州店")
        assert (filled.id, filled.name, filled.store) == (first["new1"], "王五", "杭州店")


def test_owners_of_and_owned_identity_ids(db_engine: Engine, vault: PiiVault) -> None:
    ids = _identities(db_engine, vault, 3)
    with unit_of_work(db_engine) as s:
        alice, bob = make_staff(s, "alice", name="Alice").id, make_staff(s, "bob").id
    _follow(db_engine, alice, ids[:2], code=True)
    _follow(db_engine, bob, ids[1:])
    with unit_of_work(db_engine) as s:
        relations = service.owners_of(s, [ids[1], ids[2]])
        assert [(r.identity_id, r.staff_userid) for r in relations] == [(ids[1], "alice"), (ids[1], "bob"),
                                                                         (ids[2], "bob")]
        assert relations[0].staff_name == "Alice" and relations[0].channel_code_id is not None
        assert service.owned_identity_ids(s, alice) == ids[:2]
        assert sorted(s.scalars(service.owned_identities_query(bob))) == ids[1:]


def test_in_service_transfer_moves_chosen_customers(db_engine: Engine, vault: PiiVault) -> None:
    ids = _identities(db_engine, vault, 3)
    with unit_of_work(db_engine) as s:
        x, y = make_staff(s, "x").id, make_staff(s, "y").id
    _follow(db_engine, x, ids, code=True)
    when = T0 + timedelta(days=3)
    with unit_of_work(db_engine) as s:
        transfer = service.transfer_customers(s, x, y, ids[:2], actor="user:op", at=when)
        assert (transfer.reason, transfer.customers, transfer.actor) == ("in_service", 2, "user:op")
    assert _active(db_engine) == {(ids[0], y), (ids[1], y), (ids[2], x)}
    with unit_of_work(db_engine) as s:
        old = s.scalars(select(Ownership).where(Ownership.staff_id == x, Ownership.removed_at.is_not(None))).all()
        new = s.scalars(select(Ownership).where(Ownership.staff_id == y)).all()
        assert [(o.removed_by, o.removed_at) for o in old] == [("transfer", when)] * 2
        assert {(o.source, o.transferred_from_id, o.channel_code_id) for o in new} == {
            ("transfer", old[0].id, None), ("transfer", old[1].id, None)}
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "staff.transfer")).one()
        assert audit.target_id == str(transfer.id)
        assert audit.detail["identity_ids"] == ids[:2] and audit.detail["reason"] == "in_service"


def test_transfer_to_someone_already_following_does_not_duplicate(db_engine: Engine, vault: PiiVault) -> None:
    ids = _identities(db_engine, vault, 1)
    with unit_of_work(db_engine) as s:
        x, y = make_staff(s, "x").id, make_staff(s, "y").id
    _follow(db_engine, x, ids)
    _follow(db_engine, y, ids)
    with unit_of_work(db_engine) as s:
        service.transfer_customers(s, x, y, ids, actor="cli")
    assert _active(db_engine) == {(ids[0], y)}


def test_transfer_errors(db_engine: Engine, vault: PiiVault) -> None:
    ids = _identities(db_engine, vault, 1)
    with unit_of_work(db_engine) as s:
        x, y, z = make_staff(s, "x").id, make_staff(s, "y").id, make_staff(s, "z").id
        service.depart_staff(s, z, actor="cli")
        assert _err(service.transfer_customers, s, x, x, ids, actor="cli").code == "same_staff"
        assert _err(service.transfer_customers, s, x, y, ids, actor="cli").code == "nothing_to_transfer"
        assert _err(service.transfer_customers, s, x, y, None, actor="cli").code == "nothing_to_transfer"
        assert _err(service.transfer_customers, s, x, z, ids, actor="cli").code == "staff_departed"
        assert _err(service.transfer_customers, s, x, 999, ids, actor="cli").code == "staff_not_found"


def test_departure_with_inheritance(db_engine: Engine, vault: PiiVault) -> None:
    ids = _identities(db_engine, vault, 3)
    with unit_of_work(db_engine) as s:
        leaver, heir = make_staff(s, "leaver").id, make_staff(s, "heir").id
    _follow(db_engine, leaver, ids)
    when = datetime(2026, 2, 1, tzinfo=T0.tzinfo)
    with unit_of_work(db_engine) as s:
        result = service.depart_staff(s, leaver, inherit_to=heir, actor="user:hr", at=when)
        assert (result.staff.status, result.staff.departed_at) == ("departed", when)
        assert result.transfer is not None
        assert (result.transfer.reason, result.transfer.customers) == ("departure", 3)
    assert _active(db_engine) == {(i, heir) for i in ids}
    with unit_of_work(db_engine) as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[-2:] == ["staff.depart", "staff.transfer"]
        assert len(s.scalars(select(StaffTransfer)).all()) == 1
        assert _err(service.depart_staff, s, leaver, actor="cli").code == "already_departed"


def test_departure_without_heir_keeps_relations_until_inherited(db_engine: Engine, vault: PiiVault) -> None:
    ids = _identities(db_engine, vault, 2)
    with unit_of_work(db_engine) as s:
        leaver, heir = make_staff(s, "leaver").id, make_staff(s, "heir").id
    _follow(db_engine, leaver, ids)
    with unit_of_work(db_engine) as s:
        assert service.depart_staff(s, leaver, actor="cli").transfer is None
    assert _active(db_engine) == {(i, leaver) for i in ids}
    with unit_of_work(db_engine) as s:
        transfer = service.transfer_customers(s, leaver, heir, None, actor="cli")
        assert (transfer.reason, transfer.customers) == ("departure", 2)
        assert [t.id for t in service.recent_transfers(s, staff_id=heir)] == [transfer.id]
    assert _active(db_engine) == {(i, heir) for i in ids}


def test_departure_to_a_departed_heir_changes_nothing(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        leaver, gone = make_staff(s, "leaver").id, make_staff(s, "gone").id
        service.depart_staff(s, gone, actor="cli")
    with pytest.raises(SiyuError) as info, unit_of_work(db_engine) as s:
        service.depart_staff(s, leaver, inherit_to=gone, actor="cli")
    assert info.value.code == "staff_departed"
    with unit_of_work(db_engine) as s:
        assert s.get(Staff, leaver).status == "active"

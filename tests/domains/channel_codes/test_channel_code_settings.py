"""Channel code settings: creation, validation errors with stable codes, updates, listing."""

from __future__ import annotations

import pytest
from factories import make_staff
from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.channel_codes import service
from siyu.domains.channel_codes.service import PoolEntry
from siyu.domains.staff.service import depart_staff
from siyu.errors import SiyuError


@pytest.fixture
def staff_ids(db_engine: Engine) -> dict[str, int]:
    with unit_of_work(db_engine) as s:
        return {u: make_staff(s, u).id for u in ("alice", "bob", "carol")}


def _create(engine: Engine, **over):  # type: ignore[no-untyped-def]
    args = {"name": "门店海报", "platform": "store", "strategy": "round_robin",
            "pool": [PoolEntry("alice"), PoolEntry("bob", weight=3, daily_cap=10)]}
    args.update(over)
    with unit_of_work(engine) as s:
        return service.create_code(s, actor="user:op", **args)


def _error(engine: Engine, **over) -> SiyuError:  # type: ignore[no-untyped-def]
    with pytest.raises(SiyuError) as info:
        _create(engine, **over)
    return info.value


def test_create_generates_a_state_and_keeps_pool_order(db_engine: Engine, staff_ids: dict[str, int]) -> None:
    view = _create(db_engine, backup=["carol"], tags=[" 海报 ", "门店", "海报"], channel="上海店",
                   working_hours={"tue": [["13:00", "18:00"], ["09:00", "12:00"]]})
    code = view.code
    assert len(code.state) <= 30 and code.state.startswith("c")
    assert [(m.staff.userid, m.weight, m.daily_cap) for m in view.pool] == [("alice", 1, None), ("bob", 3, 10)]
    assert [b.userid for b in view.backups] == ["carol"]
    assert code.tags == ["海报", "门店"]
    assert code.working_hours == {"tue": [["09:00", "12:00"], ["13:00", "18:00"]]}
    with unit_of_work(db_engine) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "channel_code.create")).one()
        assert (entry.actor, entry.target_id) == ("user:op", str(code.id))


def test_duplicate_state_is_a_409(db_engine: Engine, staff_ids: dict[str, int]) -> None:
    _create(db_engine, state="store-01")
    err = _error(db_engine, state="store-01")
    assert (err.code, err.status) == ("duplicate_state", 409)


@pytest.mark.parametrize("state", ["x" * 31, "has space", "中文", "a/b", ""])
def test_invalid_state(db_engine: Engine, staff_ids: dict[str, int], state: str) -> None:
    err = _error(db_engine, state=state)
    assert (err.code, err.status) == ("invalid_state", 422)


def test_state_of_thirty_chars_is_accepted(db_engine: Engine, staff_ids: dict[str, int]) -> None:
    assert _create(db_engine, state="a_b-c.d" + "9" * 23).code.state == "a_b-c.d" + "9" * 23


@pytest.mark.parametrize(("over", "code"), [
    ({"pool": [PoolEntry("nobody")]}, "unknown_staff"),
    ({"backup": ["ghost"]}, "unknown_staff"),
    ({"pool": []}, "empty_pool"),
    ({"strategy": "random"}, "invalid_strategy"),
    ({"platform": "myspace"}, "invalid_platform"),
    ({"pool": [PoolEntry("alice"), PoolEntry("alice")]}, "duplicate_staff"),
    ({"pool": [PoolEntry("alice", weight=0)]}, "invalid_weight"),
    ({"pool": [PoolEntry("alice", daily_cap=0)]}, "invalid_daily_cap"),
    ({"name": "  "}, "invalid_name"),
    ({"working_hours": {"monday": [["09:00", "18:00"]]}}, "invalid_working_hours"),
    ({"working_hours": {"mon": [["18:00", "09:00"]]}}, "invalid_working_hours"),
    ({"working_hours": {"mon": [["9:00", "18:00"]]}}, "invalid_working_hours"),
    ({"working_hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "invalid_working_hours"),
    ({"working_hours": {"mon": ["09:00-18:00"]}}, "invalid_working_hours"),
    ({"tags": ["x" * 65]}, "invalid_tag"),
])
def test_validation_errors(db_engine: Engine, staff_ids: dict[str, int], over: dict, code: str) -> None:
    err = _error(db_engine, **over)
    assert (err.code, err.status) == (code, 422)


def test_departed_staff_cannot_join_a_pool(db_engine: Engine, staff_ids: dict[str, int]) -> None:
    with unit_of_work(db_engine) as s:
        depart_staff(s, staff_ids["bob"], actor="cli")
    assert _error(db_engine).code == "staff_departed"


def test_working_hours_may_end_at_midnight(db_engine: Engine, staff_ids: dict[str, int]) -> None:
    view = _create(db_engine, working_hours={"sun": [["20:00", "24:00"]], "mon": []})
    assert view.code.working_hours == {"mon": [], "sun": [["20:00", "24:00"]]}


def test_update_changes_only_given_fields_and_resets_rotation(db_engine: Engine, staff_ids: dict[str, int]) -> None:
    code_id = _create(db_engine, state="s1").code.id
    with unit_of_work(db_engine) as s:
        service.get_code(s, code_id).code.rr_cursor = 1
    with unit_of_work(db_engine) as s:
        view = service.update_code(s, code_id, {"name": "新名字", "pool": [PoolEntry("carol", daily_cap=5)],
                                                "welcome_template": None}, actor="cli")
    assert view.code.name == "新名字" and view.code.state == "s1" and view.code.strategy == "round_robin"
    assert [m.staff.userid for m in view.pool] == ["carol"]
    assert view.code.rr_cursor == 0


def test_update_to_a_taken_state_is_refused(db_engine: Engine, staff_ids: dict[str, int]) -> None:
    _create(db_engine, state="taken")
    code_id = _create(db_engine, state="mine").code.id
    with pytest.raises(SiyuError) as info, unit_of_work(db_engine) as s:
        service.update_code(s, code_id, {"state": "taken"})
    assert info.value.code == "duplicate_state"


def test_update_refuses_unknown_fields(db_engine: Engine, staff_ids: dict[str, int]) -> None:
    code_id = _create(db_engine).code.id
    with pytest.raises(SiyuError) as info, unit_of_work(db_engine) as s:
        service.update_code(s, code_id, {"rr_cursor": 3})
    assert info.value.code == "invalid_field"


def test_known_states_and_listing(db_engine: Engine, staff_ids: dict[str, int]) -> None:
    first = _create(db_engine, state="a1", platform="douyin").code.id
    second = _create(db_engine, state="a2").code.id
    with unit_of_work(db_engine) as s:
        service.deactivate_code(s, second)
        assert service.known_states(s, {"a1", "a2", "zz", ""}) == {"a1", "a2"}
        page = service.list_codes(s, limit=1)
        assert [v.code.id for v in page.items] == [first] and page.next_cursor == first
        assert [v.code.id for v in service.list_codes(s, after_id=page.next_cursor).items] == [second]
        assert [v.code.id for v in service.list_codes(s, active=True).items] == [first]
        assert [v.code.id for v in service.list_codes(s, platform="douyin").items] == [first]


def test_missing_code_is_404(db_engine: Engine) -> None:
    with pytest.raises(SiyuError) as info, unit_of_work(db_engine) as s:
        service.get_code(s, 999)
    assert (info.value.code, info.value.status) == ("channel_code_not_found", 404)

"""next_assignee: the four strategies, daily caps, working hours with backups, round-robin persistence."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest
from factories import make_customer, make_identity, make_ownership, make_staff
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.channel_codes import service
from siyu.domains.channel_codes.models import ChannelCode
from siyu.domains.channel_codes.service import PoolEntry
from siyu.domains.staff.models import Staff
from siyu.domains.staff.service import depart_staff
from siyu.errors import SiyuError
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

THU_10 = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Asia/Shanghai
THU_20 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # Thursday 20:00 in Asia/Shanghai
HOURS = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def staff_ids(db_engine: Engine) -> dict[str, int]:
    with unit_of_work(db_engine) as s:
        return {u: make_staff(s, u).id for u in ("alice", "bob", "carol", "night")}


def _code(engine: Engine, strategy: str, pool: list[PoolEntry], **over) -> int:  # type: ignore[no-untyped-def]
    with unit_of_work(engine) as s:
        return service.create_code(s, name="code", platform="poster", strategy=strategy, pool=pool, **over).code.id


def _next(engine: Engine, settings: Settings, code_id: int, now: datetime = THU_10,
          rng: random.Random | None = None) -> str:
    with unit_of_work(engine) as s:
        return service.next_assignee(s, settings, code_id, now, rng=rng).userid


def _own(engine: Engine, settings: Settings, userid: str, code_id: int | None, added_at: datetime, n: int = 1) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(engine) as s:
        staff = s.query(Staff).filter_by(userid=userid).one()
        code = s.get(ChannelCode, code_id) if code_id else None
        for _ in range(n):
            customer = make_customer(s, vault)
            identity = make_identity(s, vault, customer.id, "external_userid", f"wm{customer.id}")
            make_ownership(s, identity, staff, code=code, added_at=added_at)


def test_fixed_takes_the_first_in_pool(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "fixed", [PoolEntry("bob"), PoolEntry("alice")])
    assert [_next(db_engine, settings, code_id) for _ in range(3)] == ["bob", "bob", "bob"]


def test_round_robin_rotates_and_persists(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "round_robin", [PoolEntry("alice"), PoolEntry("bob"), PoolEntry("carol")])
    # every call is its own transaction: the cursor must survive between them
    assert [_next(db_engine, settings, code_id) for _ in range(4)] == ["alice", "bob", "carol", "alice"]
    with unit_of_work(db_engine) as s:
        assert s.get(ChannelCode, code_id).rr_cursor == 1  # type: ignore[union-attr]


def test_round_robin_skips_a_capped_member(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "round_robin", [PoolEntry("alice", daily_cap=1), PoolEntry("bob")])
    _own(db_engine, settings, "alice", code_id, THU_10 - timedelta(hours=1))
    assert [_next(db_engine, settings, code_id) for _ in range(3)] == ["bob", "bob", "bob"]


def test_weighted_follows_weights(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "weighted", [PoolEntry("alice", weight=1), PoolEntry("bob", weight=3)])
    rng = random.Random(7)
    counts = Counter(_next(db_engine, settings, code_id, rng=rng) for _ in range(400))
    assert set(counts) == {"alice", "bob"}
    assert 0.65 < counts["bob"] / 400 < 0.85


def test_weighted_is_reproducible_with_a_seeded_rng(db_engine: Engine, settings: Settings,
                                                    staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "weighted", [PoolEntry("alice"), PoolEntry("bob"), PoolEntry("carol")])
    first = [_next(db_engine, settings, code_id, rng=random.Random(3)) for _ in range(1)]
    again = [_next(db_engine, settings, code_id, rng=random.Random(3)) for _ in range(1)]
    assert first == again


def test_least_loaded_picks_fewest_active_relations(db_engine: Engine, settings: Settings,
                                                    staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "least_loaded", [PoolEntry("alice"), PoolEntry("bob"), PoolEntry("carol")])
    _own(db_engine, settings, "alice", None, THU_10 - timedelta(days=30), n=3)
    _own(db_engine, settings, "bob", None, THU_10 - timedelta(days=30), n=1)
    _own(db_engine, settings, "carol", None, THU_10 - timedelta(days=30), n=2)
    assert _next(db_engine, settings, code_id) == "bob"


def test_least_loaded_ties_go_in_pool_order(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "least_loaded", [PoolEntry("carol"), PoolEntry("alice")])
    assert _next(db_engine, settings, code_id) == "carol"


def test_cap_counts_only_today_in_brand_time_zone(db_engine: Engine, settings: Settings,
                                                  staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "fixed", [PoolEntry("alice", daily_cap=2), PoolEntry("bob")])
    # 23:30 Shanghai the day before: yesterday, although the same UTC date as THU_10
    _own(db_engine, settings, "alice", code_id, datetime(2025, 12, 31, 15, 30, tzinfo=UTC), n=5)
    _own(db_engine, settings, "alice", code_id, datetime(2025, 12, 31, 16, 30, tzinfo=UTC))  # 00:30 today
    assert _next(db_engine, settings, code_id) == "alice"
    _own(db_engine, settings, "alice", code_id, THU_10 - timedelta(minutes=5))
    assert _next(db_engine, settings, code_id) == "bob"


def test_cap_ignores_relations_through_other_codes(db_engine: Engine, settings: Settings,
                                                   staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "fixed", [PoolEntry("alice", daily_cap=1), PoolEntry("bob")])
    other = _code(db_engine, "fixed", [PoolEntry("alice")])
    _own(db_engine, settings, "alice", other, THU_10 - timedelta(minutes=5), n=3)
    assert _next(db_engine, settings, code_id) == "alice"


def test_outside_working_hours_goes_to_backup(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "fixed", [PoolEntry("alice")], working_hours=HOURS, backup=["night"])
    assert _next(db_engine, settings, code_id, THU_10) == "alice"
    with unit_of_work(db_engine) as s:
        chosen = service.next_assignee(s, settings, code_id, THU_20)
    assert (chosen.userid, chosen.via) == ("night", "backup")
    saturday = THU_10 + timedelta(days=2)
    assert _next(db_engine, settings, code_id, saturday) == "night"


def test_all_capped_goes_to_least_used_backup(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "round_robin", [PoolEntry("alice", daily_cap=1)], backup=["carol", "night"])
    _own(db_engine, settings, "alice", code_id, THU_10 - timedelta(minutes=1))
    _own(db_engine, settings, "carol", code_id, THU_10 - timedelta(minutes=1))
    assert _next(db_engine, settings, code_id) == "night"


def test_no_one_available_is_a_clear_error(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "fixed", [PoolEntry("alice")], working_hours=HOURS)
    with pytest.raises(SiyuError) as info, unit_of_work(db_engine) as s:
        service.next_assignee(s, settings, code_id, THU_20)
    assert (info.value.code, info.value.status) == ("no_assignee", 409)


def test_departed_members_are_never_assigned(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "round_robin", [PoolEntry("alice"), PoolEntry("bob")])
    with unit_of_work(db_engine) as s:
        depart_staff(s, staff_ids["alice"], actor="cli")
    assert [_next(db_engine, settings, code_id) for _ in range(3)] == ["bob", "bob", "bob"]


def test_inactive_code_assigns_no_one(db_engine: Engine, settings: Settings, staff_ids: dict[str, int]) -> None:
    code_id = _code(db_engine, "fixed", [PoolEntry("alice")])
    with unit_of_work(db_engine) as s:
        service.deactivate_code(s, code_id)
    with pytest.raises(SiyuError) as info, unit_of_work(db_engine) as s:
        service.next_assignee(s, settings, code_id, THU_10)
    assert info.value.code == "code_inactive"

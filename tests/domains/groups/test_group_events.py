"""apply_group_events: groups on first sight, join/leave history, idempotent replays, reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

import pytest
from factories import make_customer, make_identity, make_staff
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.events import AcceptedEvent
from siyu.domains.groups import service
from siyu.domains.groups.models import CustomerGroup, GroupMembership
from siyu.domains.staff.models import Staff
from siyu.errors import SiyuError
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

T = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
_ids = count(1)


@pytest.fixture
def ident(db_engine: Engine, settings: Settings) -> tuple[int, int]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        c = make_customer(s, vault)
        return c.id, make_identity(s, vault, c.id, "external_userid", f"wm{c.id}").id


def ev(ident: tuple[int, int], type_: str, at: datetime, **props: object) -> AcceptedEvent:
    n = next(_ids)
    return AcceptedEvent(id=n, event_id=f"g{n}", type=type_, occurred_at=at, identity_id=ident[1],
                         customer_id=ident[0], channel="wecom", properties=props,
                         identities={"external_userid": ident[1]})


def apply(engine: Engine, events: list[AcceptedEvent]) -> None:
    with unit_of_work(engine) as s:
        service.apply_group_events(s, events)


def stays(engine: Engine) -> list[tuple[str, datetime, datetime | None]]:
    with unit_of_work(engine) as s:
        rows = s.execute(select(CustomerGroup.chat_id, GroupMembership.joined_at, GroupMembership.left_at)
                         .join(CustomerGroup, CustomerGroup.id == GroupMembership.group_id)
                         .order_by(GroupMembership.id)).all()
        return [tuple(r) for r in rows]


def test_join_creates_the_group_with_owner(db_engine: Engine, ident: tuple[int, int]) -> None:
    apply(db_engine, [ev(ident, "group_joined", T, chat_id="wr1", group_name="VIP 群", staff_userid="owner1")])
    with unit_of_work(db_engine) as s:
        group = s.scalars(select(CustomerGroup)).one()
        owner = s.scalars(select(Staff).where(Staff.userid == "owner1")).one()
        assert (group.chat_id, group.name, group.owner_staff_id, group.created_at) == ("wr1", "VIP 群", owner.id, T)
    assert stays(db_engine) == [("wr1", T, None)]


def test_replayed_join_opens_one_stay(db_engine: Engine, ident: tuple[int, int]) -> None:
    join = ev(ident, "group_joined", T, chat_id="wr1")
    apply(db_engine, [join, join])
    apply(db_engine, [join, ev(ident, "group_joined", T + timedelta(hours=1), chat_id="wr1")])
    assert stays(db_engine) == [("wr1", T, None)]


def test_join_leave_join_keeps_history(db_engine: Engine, ident: tuple[int, int]) -> None:
    apply(db_engine, [ev(ident, "group_joined", T, chat_id="wr1")])
    apply(db_engine, [ev(ident, "group_left", T + timedelta(days=1), chat_id="wr1"),
                      ev(ident, "group_joined", T + timedelta(days=2), chat_id="wr1")])
    apply(db_engine, [ev(ident, "group_left", T + timedelta(days=3), chat_id="wr1")])
    assert stays(db_engine) == [("wr1", T, T + timedelta(days=1)),
                                ("wr1", T + timedelta(days=2), T + timedelta(days=3))]


def test_events_are_replayed_in_time_order_within_a_batch(db_engine: Engine, ident: tuple[int, int]) -> None:
    events = [ev(ident, "group_joined", T, chat_id="wr1"),
              ev(ident, "group_left", T + timedelta(minutes=5), chat_id="wr1")]
    apply(db_engine, list(reversed(events)))
    assert stays(db_engine) == [("wr1", T, T + timedelta(minutes=5))]


def test_leave_without_stay_or_older_than_stay_is_ignored(db_engine: Engine, ident: tuple[int, int]) -> None:
    apply(db_engine, [ev(ident, "group_left", T, chat_id="wr9")])
    apply(db_engine, [ev(ident, "group_joined", T, chat_id="wr1")])
    apply(db_engine, [ev(ident, "group_left", T - timedelta(days=1), chat_id="wr1")])
    assert stays(db_engine) == [("wr1", T, None)]
    with unit_of_work(db_engine) as s:
        assert sorted(s.scalars(select(CustomerGroup.chat_id))) == ["wr1", "wr9"]


def test_placeholder_name_learns_the_real_one(db_engine: Engine, ident: tuple[int, int]) -> None:
    apply(db_engine, [ev(ident, "group_joined", T, chat_id="wr1")])
    apply(db_engine, [ev(ident, "group_left", T + timedelta(hours=1), chat_id="wr1", group_name="新品群")])
    apply(db_engine, [ev(ident, "group_joined", T + timedelta(hours=2), chat_id="wr1", group_name="改名")])
    with unit_of_work(db_engine) as s:
        assert s.scalars(select(CustomerGroup.name)).one() == "新品群"


def test_events_without_chat_id_are_skipped(db_engine: Engine, ident: tuple[int, int]) -> None:
    apply(db_engine, [ev(ident, "group_joined", T), ev(ident, "group_joined", T, chat_id="  "),
                      ev(ident, "page_view", T, chat_id="wr1")])
    assert stays(db_engine) == []


def test_reads(db_engine: Engine, settings: Settings, ident: tuple[int, int]) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        make_staff(s, "owner")
        c = make_customer(s, vault)
        other = (c.id, make_identity(s, vault, c.id, "external_userid", "wm-other").id)
    apply(db_engine, [ev(ident, "group_joined", T, chat_id="a", group_name="A"),
                      ev(ident, "group_joined", T + timedelta(hours=1), chat_id="b", group_name="B"),
                      ev(other, "group_joined", T, chat_id="a"),
                      ev(ident, "group_left", T + timedelta(hours=2), chat_id="a")])
    with unit_of_work(db_engine) as s:
        mine = service.groups_of(s, [ident[1]])
        assert [(g.chat_id, g.group_name, g.active) for g in mine] == [("b", "B", True), ("a", "A", False)]
        page = service.list_groups(s)
        assert [(g.group.chat_id, g.members) for g in page.items] == [("a", 1), ("b", 1)]
        group_a = page.items[0].group.id
        assert [m.identity_id for m in service.group_members(s, group_a).items] == [other[1]]
        assert len(service.group_members(s, group_a, include_left=True).items) == 2
        assert service.get_group(s, group_a).members == 1
        first = service.list_groups(s, limit=1)
        assert first.next_cursor == group_a
        with pytest.raises(SiyuError) as info:
            service.group_members(s, 999)
        assert info.value.code == "group_not_found"

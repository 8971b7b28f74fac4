"""apply_contact_events: ownership, attribution, tags, welcome message, daily added/lost, replays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import count

import pytest
from factories import make_customer, make_identity, make_staff
from sqlalchemy import Engine, select
from sqlalchemy import event as sa_event

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.channel_codes import service
from siyu.domains.channel_codes.contacts import render_welcome
from siyu.domains.channel_codes.models import ChannelCode, ChannelCodeDaily
from siyu.domains.channel_codes.service import PoolEntry
from siyu.domains.customers import Customer
from siyu.domains.events import AcceptedEvent
from siyu.domains.outbox.models import OutboxMessage
from siyu.domains.staff.models import Ownership, Staff
from siyu.domains.tags.service import tags_of
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

T = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)  # Thursday 10:00 Asia/Shanghai
_ids = count(1)


@dataclass(frozen=True)
class Person:
    customer_id: int
    external: int  # external_userid identity
    phone: int  # another identity of the same person


@pytest.fixture
def vault(settings: Settings) -> PiiVault:
    return PiiVault(settings.effective_secret_key)


@pytest.fixture
def setup(db_engine: Engine) -> dict[str, int]:
    with unit_of_work(db_engine) as s:
        ids = {u: make_staff(s, u, name=f"{u}-name").id for u in ("alice", "bob")}
        code = service.create_code(s, name="抖音直播", platform="douyin", strategy="round_robin", state="dy01",
                                   pool=[PoolEntry("alice"), PoolEntry("bob")], tags=["抖音", "直播"],
                                   channel="live",
                                   welcome_template="你好{customer_name}，我是{staff_name}（{code_name}）{unknown}")
        ids["code"] = code.code.id
        plain = service.create_code(s, name="plain", platform="store", strategy="fixed", state="plain",
                                    pool=[PoolEntry("bob")])
        ids["plain"] = plain.code.id
    return ids


def person(engine: Engine, vault: PiiVault) -> Person:
    with unit_of_work(engine) as s:
        c = make_customer(s, vault)
        ext = make_identity(s, vault, c.id, "external_userid", f"wm{c.id}")
        phone = make_identity(s, vault, c.id, "phone", f"1390000{c.id:04d}")
        return Person(c.id, ext.id, phone.id)


def ev(p: Person, type_: str = "contact_added", at: datetime = T, **props: object) -> AcceptedEvent:
    n = next(_ids)
    return AcceptedEvent(id=n, event_id=f"e{n}", type=type_, occurred_at=at, identity_id=p.phone,
                         customer_id=p.customer_id, channel="wecom", properties=props,
                         identities={"external_userid": p.external, "phone": p.phone})


def apply(engine: Engine, settings: Settings, events: list[AcceptedEvent]) -> None:
    with unit_of_work(engine) as s:
        service.apply_contact_events(s, settings, events)


def ownerships(engine: Engine) -> list[tuple[int, str, int | None, str, str | None]]:
    with unit_of_work(engine) as s:
        rows = s.execute(select(Ownership.identity_id, Staff.userid, Ownership.channel_code_id, Ownership.source,
                                Ownership.removed_by).join(Staff, Staff.id == Ownership.staff_id)
                         .order_by(Ownership.id)).all()
        return [tuple(r) for r in rows]


def daily(engine: Engine, code_id: int) -> dict[date, tuple[int, int]]:
    with unit_of_work(engine) as s:
        rows = s.scalars(select(ChannelCodeDaily).where(ChannelCodeDaily.code_id == code_id)).all()
        return {r.day: (r.added, r.lost) for r in rows}


def test_contact_added_does_everything(db_engine: Engine, settings: Settings, vault: PiiVault,
                                       setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    event = ev(p, staff_userid="alice", state="dy01", welcome_code="WC1", name="小红")
    apply(db_engine, settings, [event])
    assert ownerships(db_engine) == [(p.external, "alice", setup["code"], "channel_code", None)]
    with unit_of_work(db_engine) as s:
        customer = s.get(Customer, p.customer_id)
        assert (customer.source_channel_code_id, customer.source_platform) == (setup["code"], "douyin")
        assert tags_of(s, [p.customer_id]) == {p.customer_id: ["抖音", "直播"]}
        message = s.scalars(select(OutboxMessage)).one()
    assert message.idempotency_key == f"welcome:{event.event_id}"
    assert (message.kind, message.channel, message.customer_id, message.staff_id) == (
        "welcome_message", "wecom", p.customer_id, setup["alice"])
    assert message.payload["text"] == "你好小红，我是alice-name（抖音直播）{unknown}"
    assert message.payload["welcome_code"] == "WC1"
    assert message.payload["staff_userid"] == "alice"
    assert message.payload["external_userid_identity_id"] == p.external
    assert daily(db_engine, setup["code"]) == {date(2026, 1, 1): (1, 0)}


def test_replayed_contact_added_changes_nothing(db_engine: Engine, settings: Settings, vault: PiiVault,
                                                setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    event = ev(p, staff_userid="alice", state="dy01")
    apply(db_engine, settings, [event, event])
    apply(db_engine, settings, [event])
    apply(db_engine, settings, [ev(p, staff_userid="alice", state="dy01", at=T + timedelta(hours=1))])
    assert len(ownerships(db_engine)) == 1
    assert daily(db_engine, setup["code"]) == {date(2026, 1, 1): (1, 0)}
    with unit_of_work(db_engine) as s:
        assert len(s.scalars(select(OutboxMessage)).all()) == 1
        assert tags_of(s, [p.customer_id])[p.customer_id] == ["抖音", "直播"]


def test_first_touch_is_kept(db_engine: Engine, settings: Settings, vault: PiiVault, setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    apply(db_engine, settings, [ev(p, staff_userid="bob", state="plain")])
    apply(db_engine, settings, [ev(p, staff_userid="alice", state="dy01", at=T + timedelta(days=1))])
    with unit_of_work(db_engine) as s:
        customer = s.get(Customer, p.customer_id)
        assert (customer.source_channel_code_id, customer.source_platform) == (setup["plain"], "store")


def test_unknown_state_still_opens_the_relation(db_engine: Engine, settings: Settings, vault: PiiVault,
                                                setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    apply(db_engine, settings, [ev(p, staff_userid="alice", state="nope")])
    assert ownerships(db_engine) == [(p.external, "alice", None, "event", None)]
    with unit_of_work(db_engine) as s:
        assert s.get(Customer, p.customer_id).source_channel_code_id is None
        assert s.scalars(select(OutboxMessage)).all() == []


def test_unknown_staff_userid_creates_a_placeholder(db_engine: Engine, settings: Settings, vault: PiiVault,
                                                    setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    apply(db_engine, settings, [ev(p, staff_userid="newbie")])
    with unit_of_work(db_engine) as s:
        newbie = s.scalars(select(Staff).where(Staff.userid == "newbie")).one()
        assert (newbie.name, newbie.status) == ("newbie", "active")
    assert ownerships(db_engine) == [(p.external, "newbie", None, "event", None)]


def test_without_external_userid_anchor_is_the_event_identity(db_engine: Engine, settings: Settings,
                                                              vault: PiiVault, setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    event = AcceptedEvent(id=1, event_id="x1", type="contact_added", occurred_at=T, identity_id=p.phone,
                          customer_id=p.customer_id, channel=None, properties={"staff_userid": "bob"},
                          identities={"phone": p.phone})
    apply(db_engine, settings, [event])
    assert ownerships(db_engine) == [(p.phone, "bob", None, "event", None)]


def test_missing_staff_is_assigned_by_the_code_across_a_batch(db_engine: Engine, settings: Settings,
                                                              vault: PiiVault, setup: dict[str, int]) -> None:
    people = [person(db_engine, vault) for _ in range(3)]
    apply(db_engine, settings, [ev(p, state="dy01", at=T + timedelta(seconds=i)) for i, p in enumerate(people)])
    apply(db_engine, settings, [ev(person(db_engine, vault), state="dy01", at=T + timedelta(minutes=1))])
    assert [o[1] for o in ownerships(db_engine)] == ["alice", "bob", "alice", "bob"]
    with unit_of_work(db_engine) as s:
        assert s.get(ChannelCode, setup["code"]).rr_cursor == 0
    assert daily(db_engine, setup["code"]) == {date(2026, 1, 1): (4, 0)}


def test_caps_hold_within_one_batch(db_engine: Engine, settings: Settings, vault: PiiVault,
                                    setup: dict[str, int]) -> None:
    with unit_of_work(db_engine) as s:
        make_staff(s, "night")
        service.update_code(s, setup["plain"], {"pool": [PoolEntry("bob", daily_cap=2)], "backup": ["night"]})
    people = [person(db_engine, vault) for _ in range(4)]
    apply(db_engine, settings, [ev(p, state="plain", at=T + timedelta(seconds=i)) for i, p in enumerate(people)])
    assert [o[1] for o in ownerships(db_engine)] == ["bob", "bob", "night", "night"]


def test_no_staff_and_no_code_opens_nothing(db_engine: Engine, settings: Settings, vault: PiiVault,
                                            setup: dict[str, int]) -> None:
    apply(db_engine, settings, [ev(person(db_engine, vault))])
    assert ownerships(db_engine) == []


def test_deletions_close_relations_and_count_lost(db_engine: Engine, settings: Settings, vault: PiiVault,
                                                  setup: dict[str, int]) -> None:
    p, q = person(db_engine, vault), person(db_engine, vault)
    apply(db_engine, settings, [ev(p, staff_userid="alice", state="dy01"), ev(q, staff_userid="bob", state="dy01")])
    next_day = T + timedelta(days=1)
    apply(db_engine, settings, [ev(p, "contact_deleted_by_customer", next_day, staff_userid="alice"),
                                ev(q, "contact_deleted_by_staff", next_day, staff_userid="bob")])
    assert [o[4] for o in ownerships(db_engine)] == ["customer", "staff"]
    with unit_of_work(db_engine) as s:
        assert all(o.removed_at == next_day for o in s.scalars(select(Ownership)))
    assert daily(db_engine, setup["code"]) == {date(2026, 1, 1): (2, 0), date(2026, 1, 2): (0, 2)}
    with unit_of_work(db_engine) as s:
        stats = service.code_stats(s, setup["code"], 3, tz=settings.tz, today=date(2026, 1, 2))
    assert [(d.day.day, d.added, d.lost, d.net) for d in stats.days] == [(31, 0, 0, 0), (1, 2, 0, 2), (2, 0, 2, -2)]
    assert (stats.added, stats.lost, stats.active) == (2, 2, 0)


def test_deletion_replay_and_unknown_relation_are_ignored(db_engine: Engine, settings: Settings, vault: PiiVault,
                                                          setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    apply(db_engine, settings, [ev(p, staff_userid="alice", state="dy01")])
    gone = ev(p, "contact_deleted_by_customer", T + timedelta(hours=1), staff_userid="alice")
    apply(db_engine, settings, [gone, ev(p, "contact_deleted_by_staff", T + timedelta(hours=1), staff_userid="bob")])
    apply(db_engine, settings, [gone])
    assert daily(db_engine, setup["code"]) == {date(2026, 1, 1): (1, 1)}


def test_add_delete_add_in_one_batch(db_engine: Engine, settings: Settings, vault: PiiVault,
                                     setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    events = [ev(p, staff_userid="alice", state="dy01", at=T),
              ev(p, "contact_deleted_by_customer", T + timedelta(minutes=1), staff_userid="alice"),
              ev(p, staff_userid="alice", state="dy01", at=T + timedelta(minutes=2))]
    apply(db_engine, settings, list(reversed(events)))  # order of arrival does not matter, occurred_at does
    assert [o[4] for o in ownerships(db_engine)] == ["customer", None]
    assert daily(db_engine, setup["code"]) == {date(2026, 1, 1): (2, 1)}


def test_stale_delete_does_not_close_a_newer_relation(db_engine: Engine, settings: Settings, vault: PiiVault,
                                                      setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    apply(db_engine, settings, [ev(p, staff_userid="alice", state="dy01", at=T)])
    apply(db_engine, settings, [ev(p, "contact_deleted_by_customer", T - timedelta(days=1), staff_userid="alice")])
    assert [o[4] for o in ownerships(db_engine)] == [None]


def test_delete_without_staff_closes_every_relation(db_engine: Engine, settings: Settings, vault: PiiVault,
                                                    setup: dict[str, int]) -> None:
    p = person(db_engine, vault)
    apply(db_engine, settings, [ev(p, staff_userid="alice"), ev(p, staff_userid="bob")])
    apply(db_engine, settings, [ev(p, "contact_deleted_by_customer", T + timedelta(hours=1))])
    assert [o[4] for o in ownerships(db_engine)] == ["customer", "customer"]


def test_other_event_types_are_ignored(db_engine: Engine, settings: Settings, vault: PiiVault,
                                       setup: dict[str, int]) -> None:
    apply(db_engine, settings, [ev(person(db_engine, vault), "page_view", staff_userid="alice")])
    assert ownerships(db_engine) == []


def test_render_welcome_is_safe() -> None:
    values = {"name": "小明"}
    assert render_welcome("hi {name} {0} {name.__class__} {{x}} {missing}", values) == \
        "hi 小明 {0} {name.__class__} {{x}} {missing}"


def test_large_batch_uses_bulk_statements(db_engine: Engine, settings: Settings, vault: PiiVault,
                                          setup: dict[str, int]) -> None:
    people = [person(db_engine, vault) for _ in range(60)]
    events = [ev(p, staff_userid="alice" if i % 2 else "bob", state="dy01", at=T + timedelta(seconds=i))
              for i, p in enumerate(people)]
    statements: list[str] = []
    with unit_of_work(db_engine) as s:
        def _count(*args: object) -> None:
            statements.append(str(args[2]))

        sa_event.listen(s.get_bind(), "before_cursor_execute", _count)
        try:
            service.apply_contact_events(s, settings, events)
        finally:
            sa_event.remove(s.get_bind(), "before_cursor_execute", _count)
    assert len(ownerships(db_engine)) == 60
    # First-touch attribution goes through the customers service one customer at a time (2 statements
    # each, only for customers without a source); everything else is a fixed number of statements.
    rest = [q for q in statements if " customers" not in q]
    assert len(rest) < 25, rest

"""Processing inbound messages by watermark: replies, menus, hand-off, clocks, breach alerts, replays."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from factories import T0, make_customer, make_event, make_ownership, make_staff
from sqlalchemy import Engine, func, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.outbox import DoNotContact
from siyu.domains.outbox.models import OutboxMessage
from siyu.domains.service import alert_breaches, process_new, reset_watermark
from siyu.domains.service import service as svc
from siyu.domains.service.models import Conversation, ResponseClock
from siyu.domains.staff.models import Ownership
from siyu.domains.tasks.models import StaffTask
from siyu.kit.crypto import PiiVault

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def world(db_engine: Engine, settings: Settings) -> dict:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        owner, other, boss = make_staff(s, "owner", "小王"), make_staff(s, "other"), make_staff(s, "boss", "店长")
        customer = make_customer(s, vault, identities={"external_userid": "wm1"})
        ident = s.scalars(select(Identity)).one()
        make_ownership(s, ident, owner)
        svc.create_rule(s, name="退货", match_type="contains", patterns=["退货"], reply="请在订单页申请退货",
                        actor="test")
        svc.create_rule(s, name="菜单", match_type="exact", patterns=["菜单"], reply="请选择：",
                        options=[{"key": "1", "label": "发票", "reply": "订单完成后申请发票"}], actor="test")
        svc.create_faq(s, question="下单后多久发货？", answer="48小时内发货", alternatives=["什么时候发货"], actor="test")
        svc.set_staff_settings(s, "owner", sla_minutes=30, supervisor="boss", actor="test")
        return {"owner": owner.id, "other": other.id, "boss": boss.id, "customer": customer.id, "identity": ident.id}


def _say(engine: Engine, world: dict, type_: str, minutes: int, **props: object) -> str:
    with unit_of_work(engine) as s:
        ident = s.get(Identity, world["identity"])
        return make_event(s, ident, type_, occurred_at=T0 + timedelta(minutes=minutes), properties=props,
                          channel="wecom").event_id


def _run(engine: Engine, settings: Settings):
    with unit_of_work(engine) as s:
        return process_new(s, data_dir=settings.data_dir, tz=SH)


def test_rule_faq_menu_and_handoff(db_engine: Engine, settings: Settings, world: dict) -> None:
    e1 = _say(db_engine, world, "message_received", 0, text="我要退货", staff_userid="owner")
    _say(db_engine, world, "message_received", 1, text="菜单", staff_userid="owner")
    _say(db_engine, world, "message_received", 2, text="1", staff_userid="owner")
    _say(db_engine, world, "message_received", 3, text="请问什么时候能发货呀", staff_userid="owner")
    e5 = _say(db_engine, world, "message_received", 4, text="你们老板在吗", staff_userid="owner")
    _say(db_engine, world, "message_received", 5, text="群里问个退货", roomid="r1", staff_userid="owner")
    out = _run(db_engine, settings)
    assert (out.events, out.answered, out.handed_off, out.clocks_started) == (6, 4, 1, 1)
    with unit_of_work(db_engine, write=False) as s:
        replies = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [m.payload["text"] for m in replies] == ["请在订单页申请退货", "请选择：\n1. 发票", "订单完成后申请发票",
                                                        "48小时内发货"]
        assert replies[0].idempotency_key == f"service-reply:{e1}"
        assert {(m.customer_id, m.staff_id, m.kind, m.category) for m in replies} == {
            (world["customer"], world["owner"], "service_reply", "transactional")}
        conv = s.scalars(select(Conversation)).one()
        assert (conv.state, conv.staff_id) == ("handed_off", world["owner"])
        task = s.scalars(select(StaffTask)).one()
        assert (task.idempotency_key, task.staff_id, task.source) == (f"service-handoff:{e5}", world["owner"],
                                                                      "service_handoff")
        clock = s.scalars(select(ResponseClock)).one()
        assert (clock.started_at, clock.due_at) == (T0 + timedelta(minutes=4), T0 + timedelta(minutes=34))


def test_staff_reply_stops_the_clock_and_later_messages_do_not_restart_it(db_engine: Engine, settings: Settings,
                                                                          world: dict) -> None:
    _say(db_engine, world, "message_received", 0, text="在吗")  # no staff_userid: the follower takes it
    _say(db_engine, world, "message_received", 5, text="有人吗")
    _say(db_engine, world, "message_sent", 8, text="在的", staff_userid="other")  # not the clock's staff
    _say(db_engine, world, "message_sent", 9, text="自动回复", staff_userid="owner", auto_reply=True)
    _say(db_engine, world, "message_sent", 12, text="您好", staff_userid="owner")
    out = _run(db_engine, settings)
    assert (out.clocks_started, out.clocks_stopped) == (1, 1)
    with unit_of_work(db_engine, write=False) as s:
        clock = s.scalars(select(ResponseClock)).one()
        assert (clock.staff_id, clock.replied_at) == (world["owner"], T0 + timedelta(minutes=12))
        states = {c.staff_id: c.state for c in s.scalars(select(Conversation))}
        assert states == {world["owner"]: "staff_replied", world["other"]: "staff_replied"}


def test_breach_alerts_staff_and_supervisor_once(db_engine: Engine, settings: Settings, world: dict) -> None:
    _say(db_engine, world, "message_received", 0, text="在吗", staff_userid="owner")
    _run(db_engine, settings)
    with unit_of_work(db_engine) as s:
        assert alert_breaches(s, now=T0 + timedelta(minutes=29)) == 0
        assert alert_breaches(s, now=T0 + timedelta(minutes=30)) == 1
        assert alert_breaches(s, now=T0 + timedelta(minutes=90)) == 0
    with unit_of_work(db_engine, write=False) as s:
        alerts = s.scalars(select(StaffTask).where(StaffTask.source == "service_sla").order_by(StaffTask.id)).all()
        assert [(t.staff_id, t.title) for t in alerts] == [(world["owner"], "首次响应超时"),
                                                           (world["boss"], "下属首次响应超时：小王")]


def test_processing_the_same_events_twice_changes_nothing(db_engine: Engine, settings: Settings,
                                                          world: dict) -> None:
    _say(db_engine, world, "message_received", 0, text="我要退货", staff_userid="owner")
    _say(db_engine, world, "message_received", 1, text="你好", staff_userid="owner")
    _say(db_engine, world, "message_sent", 3, text="您好", staff_userid="owner")
    first = _run(db_engine, settings)
    assert _run(db_engine, settings).events == 0
    with unit_of_work(db_engine) as s:
        reset_watermark(s, 0)
    again = _run(db_engine, settings)
    assert (first.events, again.events, again.clocks_started, again.clocks_stopped) == (3, 3, 0, 0)
    with unit_of_work(db_engine, write=False) as s:
        counts = [s.scalar(select(func.count()).select_from(t)) for t in (OutboxMessage, StaffTask, ResponseClock,
                                                                          Conversation)]
        assert counts == [1, 1, 1, 1]
        assert s.scalars(select(Conversation)).one().state == "staff_replied"


def test_unsubscribe_keyword_opts_out_without_reply_or_clock(db_engine: Engine, settings: Settings,
                                                             world: dict) -> None:
    _say(db_engine, world, "message_received", 0, text="退订", staff_userid="owner")
    out = _run(db_engine, settings)
    assert (out.unsubscribed, out.answered, out.handed_off, out.clocks_started) == (1, 0, 0, 0)
    with unit_of_work(db_engine, write=False) as s:
        opt = s.scalars(select(DoNotContact)).one()
        assert (opt.customer_id, opt.channel, opt.scope) == (world["customer"], "wecom", "marketing")
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_menu_stays_open_and_a_customer_without_owner_is_handed_off_to_nobody(db_engine: Engine, settings: Settings,
                                                                            world: dict) -> None:
    _say(db_engine, world, "message_received", 0, text="菜单", staff_userid="owner")
    _say(db_engine, world, "message_received", 1, text="1", staff_userid="owner")
    _say(db_engine, world, "message_received", 2, text="1", staff_userid="owner")  # the menu is still open
    _say(db_engine, world, "message_received", 3, text="退货", staff_userid="owner")
    _say(db_engine, world, "message_received", 4, text="1", staff_userid="owner")  # a rule closed the menu
    out = _run(db_engine, settings)
    assert (out.answered, out.handed_off) == (4, 1)
    with unit_of_work(db_engine) as s:
        for own in s.scalars(select(Ownership)):
            own.removed_at = T0
    _say(db_engine, world, "message_received", 10, text="有人吗")  # no staff_userid and no follower now
    out = _run(db_engine, settings)
    assert (out.handed_off, out.clocks_started) == (1, 0)
    with unit_of_work(db_engine, write=False) as s:
        nobody = s.scalars(select(Conversation).where(Conversation.staff_id.is_(None))).one()
        assert nobody.state == "handed_off"
        assert s.scalar(select(func.count()).select_from(StaffTask)) == 1  # only the first hand-off's

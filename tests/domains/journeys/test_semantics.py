"""Journey semantics step by step with a controllable clock: waits, events, branches, splits, actions, trace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from domains.journeys.helpers import context, enrolments, outbox, run, start
from factories import T0, make_customer, make_event, make_identity, make_ownership, make_staff
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.identity import Identity
from siyu.domains.journeys import service
from siyu.domains.journeys.enrolling import bucket
from siyu.domains.journeys.models import RecordedCoupon
from siyu.domains.tags import tags_of
from siyu.domains.tasks.models import StaffTask
from siyu.kit.crypto import PiiVault

DAY = timedelta(days=1)


@pytest.fixture
def people(db_engine: Engine, settings: Settings) -> list[int]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        staff = make_staff(s, "guide")
        ids = []
        for i, city in enumerate(["上海", "北京", "上海"]):
            c = make_customer(s, vault, city=city)
            ident = make_identity(s, vault, c.id, "external_userid", f"wm{i}")
            make_ownership(s, ident, staff)
            ids.append(c.id)
        return ids


ONBOARDING = {
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "hello", "type": "send_message", "channel": "wecom", "content": {"text": "欢迎"}, "next": "day1"},
        {"id": "day1", "type": "wait", "duration": {"days": 1}, "next": "call"},
        {"id": "call", "type": "create_task", "title": "回访新客", "due_in": {"hours": 4}, "next": "morning"},
        {"id": "morning", "type": "wait_until_time", "at": "09:30", "next": "coupon"},
        {"id": "coupon", "type": "issue_coupon", "coupon": "NEW10", "next": "tag"},
        {"id": "tag", "type": "add_tag", "tag": "已引导"},
    ],
}


def test_waits_and_actions_run_on_time(db_engine: Engine, settings: Settings, people: list[int]) -> None:
    ctx = context(settings)
    a = people[0]
    jid = start(db_engine, "onboarding", ONBOARDING, T0, [a])
    assert run(db_engine, ctx, T0).steps == 1
    e = enrolments(db_engine, jid)[a]
    assert outbox(db_engine) == [(f"journey:{e.id}:hello:0", a, "wecom")]
    assert (e.step, e.next_run_at, e.status) == ("day1", T0 + DAY, "active")
    assert run(db_engine, ctx, T0 + DAY - timedelta(seconds=1)).steps == 0
    # a day later (08:05 in Shanghai): the wait ends, the task is due 4 h later, then she waits for 09:30
    # Shanghai the same day (01:30 UTC)
    assert run(db_engine, ctx, T0 + DAY + timedelta(minutes=5)).steps == 2
    with unit_of_work(db_engine, write=False) as s:
        task = s.scalars(select(StaffTask)).one()
        assert (task.title, task.customer_id, task.source) == ("回访新客", a, f"journey:{jid}")
        assert task.due_at == T0 + DAY + timedelta(minutes=5, hours=4) and task.staff_id is not None
    e = enrolments(db_engine, jid)[a]
    assert (e.step, e.next_run_at) == ("morning", T0 + DAY + timedelta(hours=1, minutes=30))
    assert run(db_engine, ctx, T0 + DAY + timedelta(hours=1, minutes=30)).steps == 3
    e = enrolments(db_engine, jid)[a]
    assert (e.status, e.next_run_at, e.visit) == ("done", None, 6)
    with unit_of_work(db_engine, write=False) as s:
        assert tags_of(s, [a]) == {a: ["已引导"]}
        assert [(c.coupon, c.idempotency_key) for c in s.scalars(select(RecordedCoupon))] == [
            ("NEW10", f"journey:{e.id}:coupon:4")]
        steps = service.trace(s, a)[0]["steps"]
    assert [(t["step"], t["at"]) for t in steps] == [
        ("hello", T0), ("day1", T0 + DAY + timedelta(minutes=5)), ("call", T0 + DAY + timedelta(minutes=5)),
        ("morning", T0 + DAY + timedelta(hours=1, minutes=30)),
        ("coupon", T0 + DAY + timedelta(hours=1, minutes=30)), ("tag", T0 + DAY + timedelta(hours=1, minutes=30))]


WAIT_FOR_ORDER = {
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "ask", "type": "wait_for_event", "event": {"type": "order_paid", "where": [
            {"property": "store", "op": "eq", "value": "静安"}]}, "timeout": {"days": 3},
         "next": "thanks", "on_timeout": "remind"},
        {"id": "thanks", "type": "add_tag", "tag": "已下单"},
        {"id": "remind", "type": "send_message", "channel": "sms", "content": {"text": "别忘了"}},
    ],
}


def test_wait_for_event_wakes_on_the_event_or_times_out(db_engine: Engine, settings: Settings,
                                                         people: list[int]) -> None:
    ctx = context(settings)
    a, b, c = people
    jid = start(db_engine, "first order", WAIT_FOR_ORDER, T0, [a, b, c])
    run(db_engine, ctx, T0)
    assert {cid: e.waiting_for for cid, e in enrolments(db_engine, jid).items()} == {
        a: "order_paid", b: "order_paid", c: "order_paid"}
    with unit_of_work(db_engine) as s:
        ident = {cid: s.scalars(select(Identity).where(Identity.customer_id == cid)).one() for cid in people}
        make_event(s, ident[a], "order_paid", occurred_at=T0 + DAY, properties={"store": "静安"})
        make_event(s, ident[b], "order_paid", occurred_at=T0 + DAY, properties={"store": "徐汇"})  # filtered out
    result = run(db_engine, ctx, T0 + DAY + timedelta(minutes=1))
    assert result.steps == 2  # a's wait and her tag; b and c still wait
    now = enrolments(db_engine, jid)
    assert (now[a].status, now[b].step, now[c].step) == ("done", "ask", "ask")
    run(db_engine, ctx, T0 + 3 * DAY)
    assert sorted(k for k, *_ in outbox(db_engine)) == sorted(
        f"journey:{now[x].id}:remind:1" for x in (b, c))
    with unit_of_work(db_engine, write=False) as s:
        trace = service.trace(s, b, journey=jid)[0]["steps"]
        assert trace[0]["why"] == "timed out" and trace[0]["next"] == "remind"
        assert service.trace(s, a)[0]["steps"][0]["why"].startswith("order_paid happened at 2026-01-02")


BRANCHING = {
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "city", "type": "branch", "rule": {"attribute": "city", "op": "eq", "value": "上海"},
         "yes": "ab", "no": "far"},
        {"id": "ab", "type": "split", "branches": [{"percent": 50, "next": "x"}, {"percent": 50, "next": "y"}]},
        {"id": "x", "type": "set_attribute", "attribute": "variant", "value": "x"},
        {"id": "y", "type": "set_attribute", "attribute": "variant", "value": "y"},
        {"id": "far", "type": "webhook", "url": "https://hooks.example.com/far", "body": {"why": "not local"}},
    ],
}


def test_branch_split_and_why(db_engine: Engine, settings: Settings, people: list[int]) -> None:
    ctx = context(settings)
    a, b, c = people
    jid = start(db_engine, "branching", BRANCHING, T0, people)
    run(db_engine, ctx, T0)
    with unit_of_work(db_engine, write=False) as s:
        variants = {cid: (s.get(Customer, cid).attributes or {}).get("variant") for cid in people}
        traces = {cid: service.trace(s, cid, journey=jid)[0]["steps"] for cid in people}
    assert variants[b] is None and {variants[a], variants[c]} <= {"x", "y"}
    assert traces[b][0]["why"] == "the rule did not match: took far"
    assert traces[a][0]["why"] == "the rule matched: took ab"
    assert traces[a][1]["why"].startswith("random bucket ") and traces[a][1]["next"] == variants[a]
    assert [(k.split(":")[2], ch) for k, _c, ch in outbox(db_engine)] == [("far", "webhook")]
    # the split is reproducible: the same enrolment and step always fall in the same bucket
    e = enrolments(db_engine, jid)[a]
    assert traces[a][1]["detail"]["bucket"] == bucket("split", e.id, "ab")

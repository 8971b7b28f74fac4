"""Triggers fed from facts: events with filters, exit events, segment entries, the daily birthday scan; re-entry."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from domains.journeys.helpers import context, enrolments, enrolments_all, run, start
from factories import T0, make_customer, make_event, make_identity
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.customers.service import update_profile
from siyu.domains.identity import Identity
from siyu.domains.journeys import service
from siyu.domains.segments import service as segments
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow

DAY = timedelta(days=1)
TAG_STEP = [{"id": "t", "type": "add_tag", "tag": "来自码"}]


@pytest.fixture
def idents(db_engine: Engine, settings: Settings) -> list[Identity]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        found = []
        for i, born in enumerate([date(1990, 1, 2), date(1985, 6, 1), date(1992, 1, 2)]):
            c = make_customer(s, vault, birthday=born, city="上海" if i != 1 else "北京")
            found.append(make_identity(s, vault, c.id, "external_userid", f"wm{i}"))
        s.expunge_all()
        return found


def test_event_trigger_with_filter_and_exit_event(db_engine: Engine, settings: Settings, idents: list[Identity]) -> None:
    ctx = context(settings)
    a, b, c = idents
    definition = {"trigger": {"type": "event", "event": {"type": "contact_added", "where": [
        {"property": "state", "op": "eq", "value": "poster1"}]}},
        "steps": [{"id": "w", "type": "wait", "duration": {"days": 2}, "next": "t"}, *TAG_STEP],
        "exit": ["contact_deleted_by_customer"]}
    with unit_of_work(db_engine) as s:  # before the journey is published: never enrols
        make_event(s, c, "contact_added", occurred_at=T0 - DAY, properties={"state": "poster1"})
    jid = start(db_engine, "from poster", definition, T0)
    with unit_of_work(db_engine) as s:
        make_event(s, a, "contact_added", occurred_at=T0 + timedelta(hours=1), properties={"state": "poster1"})
        make_event(s, b, "contact_added", occurred_at=T0 + timedelta(hours=1), properties={"state": "other"})
    result = run(db_engine, ctx, T0 + timedelta(hours=2))
    assert result.enrolled == 1 and set(enrolments(db_engine, jid)) == {a.customer_id}
    with unit_of_work(db_engine) as s:
        make_event(s, a, "contact_deleted_by_customer", occurred_at=T0 + DAY)
    assert run(db_engine, ctx, T0 + DAY + timedelta(minutes=1)).exited == 1
    e = enrolments(db_engine, jid)[a.customer_id]
    assert (e.status, e.reason, e.step) == ("exited", "exit event contact_deleted_by_customer", "w")
    assert run(db_engine, ctx, T0 + 3 * DAY).steps == 0  # nothing more for her


def test_segment_entered_enrols_new_members_once(db_engine: Engine, settings: Settings,
                                                 idents: list[Identity]) -> None:
    ctx = context(settings)
    with unit_of_work(db_engine) as s:
        seg = segments.create_segment(s, name="沪", rule={"attribute": "city", "op": "eq", "value": "上海"},
                                      actor="test", tz=settings.tz)
        seg_id = seg.id
    began = utcnow() + timedelta(seconds=1)  # segments stamp stays with the real clock
    jid = start(db_engine, "welcome shanghai", {"trigger": {"type": "segment_entered", "segment": seg_id},
                                                "steps": TAG_STEP}, began)
    run(db_engine, ctx, began)
    assert enrolments(db_engine, jid) == {}  # members before the journey started do not enrol
    while utcnow() < began:
        time.sleep(0.05)  # the stay below must be stamped after the journey began (real clock, < 1 s)
    with unit_of_work(db_engine) as s:
        update_profile(s, ctx.vault, idents[1].customer_id, {"city": "上海"})
        segments.refresh_segment(s, seg_id, settings.tz)
    later = utcnow() + timedelta(seconds=1)
    run(db_engine, ctx, later)
    got = enrolments(db_engine, jid)
    assert set(got) == {idents[1].customer_id} and got[idents[1].customer_id].status == "done"
    run(db_engine, ctx, later + DAY)
    assert len(enrolments(db_engine, jid)) == 1


def test_birthday_scan_runs_once_a_day(db_engine: Engine, settings: Settings, idents: list[Identity]) -> None:
    ctx = context(settings)
    jid = start(db_engine, "birthday", {"trigger": {"type": "date", "date": "birthday",
                                                    "audience": {"attribute": "city", "op": "eq", "value": "上海"}},
                                        "reentry": {"policy": "cooldown", "after": {"days": 300}},
                                        "steps": TAG_STEP}, T0)
    jan2 = T0 + DAY  # 2026-01-02 08:00 in Shanghai: a's and c's birthday
    assert run(db_engine, ctx, jan2).enrolled == 2
    assert run(db_engine, ctx, jan2 + timedelta(hours=3)).enrolled == 0  # scanned today already
    assert set(enrolments(db_engine, jid)) == {idents[0].customer_id, idents[2].customer_id}
    assert run(db_engine, ctx, jan2 + 365 * DAY).enrolled == 2  # next year, past the cooldown


def test_reentry_policies(db_engine: Engine, settings: Settings, idents: list[Identity]) -> None:
    a = idents[0].customer_id
    never = start(db_engine, "never", {"trigger": {"type": "manual"}, "steps": TAG_STEP}, T0)
    again = start(db_engine, "again", {"trigger": {"type": "manual"}, "reentry": {"policy": "after_exit"},
                                       "steps": [{"id": "w", "type": "wait", "duration": {"days": 1}}]}, T0)
    ctx = context(settings)
    with unit_of_work(db_engine) as s:
        assert service.enrol_customers(s, never, [a], actor="t", now=T0) == 1
        assert service.enrol_customers(s, again, [a, a], actor="t", now=T0) == 1
    run(db_engine, ctx, T0)
    with unit_of_work(db_engine) as s:
        assert service.enrol_customers(s, never, [a], actor="t", now=T0 + DAY) == 0  # done once: never again
        assert service.enrol_customers(s, again, [a], actor="t", now=T0 + DAY) == 0  # still waiting
    run(db_engine, ctx, T0 + DAY)
    with unit_of_work(db_engine) as s:
        assert service.enrol_customers(s, again, [a], actor="t", now=T0 + 2 * DAY) == 1


def test_goal_exits_enrol_step_and_pause(db_engine: Engine, settings: Settings, idents: list[Identity]) -> None:
    ctx = context(settings)
    a, b = idents[0].customer_id, idents[1].customer_id
    follow = start(db_engine, "follow-up", {"trigger": {"type": "manual"}, "steps": [
        {"id": "w", "type": "wait", "duration": {"days": 2}, "next": "t"}, *TAG_STEP]}, T0)
    main = start(db_engine, "main", {"trigger": {"type": "manual"},
                                     "goal": {"event": "order_paid", "within": {"days": 3}},
                                     "steps": [{"id": "w", "type": "wait", "duration": {"days": 1}, "next": "hand"},
                                               {"id": "hand", "type": "enrol", "journey": "follow-up"}]}, T0, [a, b])
    run(db_engine, ctx, T0)
    with unit_of_work(db_engine) as s:
        make_event(s, s.merge(idents[0]), "order_paid", occurred_at=T0 + timedelta(hours=2))
    assert run(db_engine, ctx, T0 + timedelta(hours=3)).exited == 1
    assert enrolments(db_engine, main)[a].reason == "goal reached"
    with unit_of_work(db_engine) as s:
        service.pause(s, follow, actor="t")
    run(db_engine, ctx, T0 + DAY)  # b reaches the enrol step: the paused journey takes nobody
    with unit_of_work(db_engine, write=False) as s:
        assert service.trace(s, b, journey=main)[0]["steps"][-1]["detail"] == {
            "journey": follow, "entered": False, "status": "paused"}
    with unit_of_work(db_engine) as s:
        service.publish(s, follow, actor="t", now=T0 + DAY)
        service.enrol_customers(s, follow, [b], actor="t", now=T0 + DAY)
        service.pause(s, follow, actor="t")
    assert run(db_engine, ctx, T0 + 4 * DAY).steps == 0  # paused: her wait is due but nothing runs
    with unit_of_work(db_engine) as s:
        service.publish(s, follow, actor="t")
    assert run(db_engine, ctx, T0 + 4 * DAY).steps == 2
    assert enrolments(db_engine, follow)[b].status == "done"


def test_member_day_anniversary_and_inactivity_scans(db_engine: Engine, settings: Settings,
                                                     idents: list[Identity]) -> None:
    ctx = context(settings)
    a, b, c = (i.customer_id for i in idents)
    with unit_of_work(db_engine) as s:
        update_profile(s, ctx.vault, a, {"attributes": {"member_since": "2024-01-09"}})
        make_event(s, s.merge(idents[1]), "message_received", occurred_at=T0 - 60 * DAY)  # silent since
        make_event(s, s.merge(idents[2]), "message_received", occurred_at=T0 - 52 * DAY)  # 2025-11-10
    member_day = start(db_engine, "member day", {"trigger": {"type": "date", "date": "member_day", "day_of_month": 8,
                                                             "audience": {"attribute": "city", "op": "eq",
                                                                          "value": "上海"}},
                                                 "reentry": {"policy": "after_exit"}, "steps": TAG_STEP}, T0)
    anniversary = start(db_engine, "anniversary", {"trigger": {"type": "date", "date": "anniversary",
                                                               "attribute": "member_since"}, "steps": TAG_STEP}, T0)
    silent = start(db_engine, "silent", {"trigger": {"type": "inactivity", "event": "message_received", "days": 60},
                                         "steps": TAG_STEP}, T0)
    run(db_engine, ctx, T0 + 2 * DAY)  # 2026-01-03 in Shanghai: nobody's day
    assert [enrolments(db_engine, j) for j in (member_day, anniversary)] == [{}, {}]
    # b's last message was 60 days before 2026-01-01, so the scan of 2026-01-03 found her 62 days silent: too late
    assert enrolments(db_engine, silent) == {}
    run(db_engine, ctx, T0 + 7 * DAY)  # 2026-01-08: member day for the Shanghai customers
    assert set(enrolments(db_engine, member_day)) == {a, c}
    run(db_engine, ctx, T0 + 8 * DAY)  # 2026-01-09: a's membership anniversary; c silent for 60 days
    assert set(enrolments(db_engine, anniversary)) == {a}
    assert set(enrolments(db_engine, silent)) == {c}
    run(db_engine, ctx, T0 + 38 * DAY)  # 2026-02-08: member day again, after the first ones ended
    assert len([e for e in enrolments_all(db_engine, member_day)]) == 4

"""Durable execution: a worker killed after a side effect loses and doubles nothing; failures retry then fail;
two schedulers at once run each action exactly once; versions and migration; holdout conversion."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from domains.journeys.helpers import context, enrolments, outbox, run, start
from factories import T0, make_customer, make_event, make_identity
from sqlalchemy import Engine, func, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.journeys import service
from siyu.domains.journeys.models import StepRun
from siyu.domains.journeys.tasks import tick
from siyu.domains.tasks.models import StaffTask
from siyu.errors import SiyuError
from siyu.kit.crypto import PiiVault

DAY = timedelta(days=1)
SEND_THEN_TASK = {"trigger": {"type": "manual"}, "steps": [
    {"id": "send", "type": "send_message", "channel": "wecom", "content": {"text": "hi"}, "next": "task"},
    {"id": "task", "type": "create_task", "title": "跟进"}]}


class Killed(BaseException):
    """A worker dying (not an error a step handler may catch)."""


def _customers(engine: Engine, settings: Settings, n: int) -> list[int]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(engine) as s:
        return [make_customer(s, vault).id for _ in range(n)]


def _count(engine: Engine, table: type) -> int:
    with unit_of_work(engine, write=False) as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_killed_after_a_side_effect_then_rerun(db_engine: Engine, settings: Settings) -> None:
    people = _customers(db_engine, settings, 3)
    jid = start(db_engine, "kill", SEND_THEN_TASK, T0, people)
    calls = []

    def die_once(enrolment: object, step: object) -> None:
        calls.append(step)
        if len(calls) == 4:  # the second customer's task is written, her state is not
            raise Killed()

    with pytest.raises(Killed):
        run(db_engine, context(settings, die_once), T0)
    assert outbox(db_engine) == [] and _count(db_engine, StaffTask) == 0  # the whole batch rolled back
    run(db_engine, context(settings), T0)
    run(db_engine, context(settings), T0 + DAY)
    keys = [k for k, *_ in outbox(db_engine)]
    assert len(keys) == len(set(keys)) == 3 and _count(db_engine, StaffTask) == 3
    assert {e.status for e in enrolments(db_engine, jid).values()} == {"done"}
    assert _count(db_engine, StepRun) == 6


def test_replayed_visit_does_not_send_twice(db_engine: Engine, settings: Settings) -> None:
    """If a side effect left the store before the state moved (a worker dying after its commit elsewhere),
    the replay of the same visit carries the same key: the outbox and the task list keep one."""
    people = _customers(db_engine, settings, 1)
    jid = start(db_engine, "replay", SEND_THEN_TASK, T0, people)
    run(db_engine, context(settings), T0)
    with unit_of_work(db_engine) as s:  # rewind the enrolment as if its state update had been lost
        e = s.get(type(enrolments(db_engine, jid)[people[0]]), enrolments(db_engine, jid)[people[0]].id)
        e.status, e.step, e.visit, e.next_run_at, e.finished_at = "active", "send", 0, T0, None
        s.query(StepRun).delete()
    run(db_engine, context(settings), T0)
    assert len(outbox(db_engine)) == 1 and _count(db_engine, StaffTask) == 1


def test_failing_step_retries_with_backoff_then_fails(db_engine: Engine, settings: Settings) -> None:
    people = _customers(db_engine, settings, 1)
    jid = start(db_engine, "fails", {"trigger": {"type": "manual"}, "steps": [
        {"id": "off", "type": "remove_tag", "tag": "不存在的标签"}]}, T0, people)
    now = T0
    for attempt in range(1, 5):
        run(db_engine, context(settings), now)
        e = enrolments(db_engine, jid)[people[0]]
        assert (e.status, e.attempt) == ("active", attempt) and "does not exist" in (e.reason or "")
        assert e.next_run_at == now + timedelta(seconds=30 * 2 ** (attempt - 1))
        now = e.next_run_at
    run(db_engine, context(settings), now)
    e = enrolments(db_engine, jid)[people[0]]
    assert (e.status, e.attempt) == ("failed", 5) and "does not exist" in e.reason
    with unit_of_work(db_engine, write=False) as s:
        steps = service.trace(s, people[0])[0]["steps"]
        assert [(t["outcome"], t["why"].startswith("failed after 5 attempts")) for t in steps] == [("failed", True)]
        counts = {c.step: (c.entered, c.failed) for c in service.step_counts(s, jid)}
    assert counts == {"off": (1, 1)}


def test_two_schedulers_at_once_run_each_action_once(db_engine: Engine, settings: Settings) -> None:
    people = _customers(db_engine, settings, 120)
    jid = start(db_engine, "race", SEND_THEN_TASK, T0, people)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            tick(lambda: unit_of_work(db_engine), context(settings), T0, batch=10)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    keys = [k for k, *_ in outbox(db_engine)]
    assert len(keys) == len(set(keys)) == 120 and _count(db_engine, StaffTask) == 120
    assert _count(db_engine, StepRun) == 240
    assert {e.status for e in enrolments(db_engine, jid).values()} == {"done"}


def test_editing_a_running_journey_makes_a_version_and_migration_is_explicit(db_engine: Engine,
                                                                             settings: Settings) -> None:
    a, b = _customers(db_engine, settings, 2)
    v1 = {"trigger": {"type": "manual"}, "steps": [{"id": "w", "type": "wait", "duration": {"days": 1}, "next": "x"},
                                                   {"id": "x", "type": "add_tag", "tag": "v1"}]}
    v2 = {"trigger": {"type": "manual"}, "steps": [{"id": "w", "type": "wait", "duration": {"days": 2}, "next": "x"},
                                                   {"id": "x", "type": "add_tag", "tag": "v2"}]}
    jid = start(db_engine, "versions", v1, T0, [a])
    run(db_engine, context(settings), T0)
    with unit_of_work(db_engine) as s:
        assert service.update_definition(s, jid, v2, actor="t").version == 2
        service.enrol_customers(s, jid, [b], actor="t", now=T0)
    got = enrolments(db_engine, jid)
    assert (got[a].version, got[b].version) == (1, 2)
    with unit_of_work(db_engine) as s:
        with pytest.raises(SiyuError) as info:
            service.migrate(s, jid, 2, actor="t")
        assert info.value.code == "invalid_version"
        assert service.migrate(s, jid, 1, actor="t") == 1
    assert enrolments(db_engine, jid)[a].version == 2


def test_holdout_and_goal_conversion(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        people = [make_customer(s, vault) for _ in range(200)]
        idents = {c.id: make_identity(s, vault, c.id, "external_userid", f"w{c.id}") for c in people}
        ids = [c.id for c in people]
    jid = start(db_engine, "holdout", {"trigger": {"type": "manual"}, "holdout_percent": 30,
                                       "goal": {"event": "order_paid", "within": {"days": 7}, "exit": False},
                                       "steps": [{"id": "t", "type": "add_tag", "tag": "x"}]}, T0, ids)
    arms = {cid: e.arm for cid, e in enrolments(db_engine, jid).items()}
    assert 30 <= sum(a == "holdout" for a in arms.values()) <= 90
    with unit_of_work(db_engine) as s:
        for cid in ids[:100]:  # half convert within the window, a few more too late
            make_event(s, s.merge(idents[cid]), "order_paid", occurred_at=T0 + DAY)
        for cid in ids[100:110]:
            make_event(s, s.merge(idents[cid]), "order_paid", occurred_at=T0 + 8 * DAY)
    with unit_of_work(db_engine, write=False) as s:
        conv = service.conversion(s, jid)
    held = [c for c in ids if arms[c] == "holdout"]
    treated = [c for c in ids if arms[c] == "treatment"]
    assert conv.holdout == (sum(c in ids[:100] for c in held), len(held))
    assert conv.treatment == (sum(c in ids[:100] for c in treated), len(treated))
    assert conv.lift_ci is not None and conv.lift_ci.low < 0 < conv.lift_ci.high  # no real effect

"""Entering from a trigger runs the first steps in the feeding transaction, with the keys a claim would give;
a failing step, a step that may leave the store, a concurrent enrolment or a killed worker fall back safely."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from domains.journeys.helpers import context, enrolments, outbox, run, start
from factories import T0, make_customer, make_event, make_identity
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.journeys import RecordOnlyCouponIssuer, enrolling
from siyu.domains.journeys import repository as repo
from siyu.domains.journeys.engine import Context
from siyu.domains.journeys.models import Enrolment, RecordedCoupon, StepRun
from siyu.kit.crypto import PiiVault

HOUR = timedelta(hours=1)
TRIGGER = {"type": "event", "event": "contact_added"}
SEND_WAIT_TAG = {"trigger": TRIGGER, "steps": [
    {"id": "send", "type": "send_message", "channel": "wecom", "content": {"text": "欢迎"}, "next": "wait"},
    {"id": "wait", "type": "wait", "duration": {"days": 1}, "next": "tag"},
    {"id": "tag", "type": "add_tag", "tag": "老朋友"}]}


class Killed(BaseException):
    """A worker dying (not an error a step handler may catch)."""


@pytest.fixture
def ident(db_engine: Engine, settings: Settings) -> Identity:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        found = make_identity(s, vault, make_customer(s, vault).id, "external_userid", "wm-entry")
        s.expunge_all()
        return found


def _arrive(engine: Engine, ident: Identity) -> None:
    with unit_of_work(engine) as s:
        make_event(s, ident, "contact_added", occurred_at=T0 + HOUR)


def _count(engine: Engine, table: type) -> int:
    with unit_of_work(engine, write=False) as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_entry_runs_the_first_step_in_the_feeding_tick(db_engine: Engine, settings: Settings, ident: Identity,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    jid = start(db_engine, "entry", SEND_WAIT_TAG, T0)
    _arrive(db_engine, ident)
    claim, claimed = repo.claim_due, []
    monkeypatch.setattr(repo, "claim_due", lambda *a, **k: claimed.append(len(found := claim(*a, **k))) or found)
    done = run(db_engine, context(settings), T0 + 2 * HOUR)
    assert (done.enrolled, done.steps, claimed) == (1, 1, [0])  # the scheduler's claim found nothing left to run
    e = enrolments(db_engine, jid)[ident.customer_id]
    assert (e.status, e.step, e.visit, e.step_entered_at, e.next_run_at) == (
        "active", "wait", 1, T0 + 2 * HOUR, T0 + 2 * HOUR + timedelta(days=1))
    assert outbox(db_engine) == [(f"journey:{e.id}:send:0", ident.customer_id, "wecom")]
    with unit_of_work(db_engine, write=False) as s:
        runs = [(r.enrolment_id, r.step, r.visit, r.outcome) for r in s.scalars(select(StepRun))]
    assert runs == [(e.id, "send", 0, "done")]
    run(db_engine, context(settings), T0 + 2 * HOUR + timedelta(days=1))
    assert enrolments(db_engine, jid)[ident.customer_id].status == "done" and _count(db_engine, StepRun) == 3


def test_failing_first_step_is_left_to_the_claim_and_retried(db_engine: Engine, settings: Settings,
                                                            ident: Identity) -> None:
    jid = start(db_engine, "entry fails", SEND_WAIT_TAG, T0)
    _arrive(db_engine, ident)
    calls: list[str] = []

    def broken(_e: object, step: Any) -> None:
        calls.append(step.id)
        raise RuntimeError("channel down")

    done = run(db_engine, context(settings, broken), T0 + 2 * HOUR)
    assert calls == ["send", "send", "send"]  # entering, the claimed batch, then that customer alone
    assert (done.enrolled, done.steps) == (1, 0) and outbox(db_engine) == []
    e = enrolments(db_engine, jid)[ident.customer_id]
    assert (e.status, e.step, e.visit, e.attempt, e.reason) == ("active", "send", 0, 1, "RuntimeError: channel down")
    assert e.next_run_at == T0 + 2 * HOUR + timedelta(seconds=30)
    run(db_engine, context(settings), T0 + 3 * HOUR)
    assert outbox(db_engine) == [(f"journey:{e.id}:send:0", ident.customer_id, "wecom")]


def test_a_step_that_may_leave_the_store_runs_on_a_committed_enrolment(db_engine: Engine, settings: Settings,
                                                                       ident: Identity) -> None:
    seen: list[bool] = []

    class Checking(RecordOnlyCouponIssuer):
        def issue(self, session: Session, *, idempotency_key: str, customer_id: int, coupon: str) -> str:
            seen.append(session.get(Enrolment, int(idempotency_key.split(":")[1])) is not None)
            return super().issue(session, idempotency_key=idempotency_key, customer_id=customer_id, coupon=coupon)

    jid = start(db_engine, "coupon", {"trigger": TRIGGER, "steps": [
        {"id": "c", "type": "issue_coupon", "coupon": "NEW"}]}, T0)
    _arrive(db_engine, ident)
    ctx = context(settings)
    done = run(db_engine, Context(tz=ctx.tz, vault=ctx.vault, coupons=Checking()), T0 + 2 * HOUR)
    assert (done.enrolled, done.steps) == (1, 1) and seen == [True]
    e = enrolments(db_engine, jid)[ident.customer_id]
    assert e.status == "done" and _count(db_engine, RecordedCoupon) == 1


def test_entry_gives_way_to_a_concurrent_enrolment(db_engine: Engine, settings: Settings, ident: Identity,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    jid = start(db_engine, "race", SEND_WAIT_TAG, T0)
    _arrive(db_engine, ident)
    draw = repo.new_enrolment_ids
    at = T0 + 2 * HOUR

    def rival_first(session: Session, n: int) -> list[int]:
        """Another worker enrols the same customer between the re-entry check and the insert."""
        repo.insert_enrolments(session, [{
            "journey_id": jid, "version": 1, "customer_id": ident.customer_id, "status": "active", "arm": "treatment",
            "step": "send", "step_entered_at": at, "visit": 0, "next_run_at": at, "lease_until": None, "attempt": 0,
            "waiting_for": None, "source": "rival", "reason": None, "entered_at": at, "finished_at": None}])
        return draw(session, n)

    monkeypatch.setattr(repo, "new_enrolment_ids", rival_first)
    run(db_engine, context(settings), at)
    with unit_of_work(db_engine, write=False) as s:
        rows = list(s.scalars(select(Enrolment).where(Enrolment.journey_id == jid)))
    assert [(e.source, e.status, e.step) for e in rows] == [("rival", "active", "wait")]
    assert outbox(db_engine) == [(f"journey:{rows[0].id}:send:0", ident.customer_id, "wecom")]


def test_worker_killed_while_entering_leaves_nothing(db_engine: Engine, settings: Settings, ident: Identity) -> None:
    jid = start(db_engine, "killed", SEND_WAIT_TAG, T0)
    _arrive(db_engine, ident)

    def die(_e: object, _step: object) -> None:
        raise Killed()

    with pytest.raises(Killed):
        run(db_engine, context(settings, die), T0 + 2 * HOUR)
    assert enrolments(db_engine, jid) == {} and outbox(db_engine) == [] and _count(db_engine, StepRun) == 0
    done = run(db_engine, context(settings), T0 + 2 * HOUR)
    e = enrolments(db_engine, jid)[ident.customer_id]
    assert (done.enrolled, done.steps) == (1, 1)
    assert outbox(db_engine) == [(f"journey:{e.id}:send:0", ident.customer_id, "wecom")]


@pytest.mark.postgres
def test_a_large_enrolment_refreshes_the_planners_statistics(pg_engine: Engine, settings: Settings,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Before autovacuum's analyse the claim was planned as a read and sort of every active enrolment (PostgreSQL:
    SQLite plans without statistics)."""
    db_engine = pg_engine
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        people = [make_customer(s, vault).id for _ in range(3)]
    monkeypatch.setattr(enrolling, "ANALYSE_AFTER", 3)
    start(db_engine, "many", SEND_WAIT_TAG | {"trigger": {"type": "manual"}}, T0, people[:2])
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'journey_enrolments'")) == -1
    start(db_engine, "more", SEND_WAIT_TAG | {"trigger": {"type": "manual"}}, T0, people)
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'journey_enrolments'")) == 5

"""Running claimed enrolments: each step decides, acts, and the enrolment row records where it is.

Why this is safe to kill at any point: a batch is one transaction. The steps' side effects are rows
in the same store (outbox messages, staff tasks, tag holds, recorded coupons, attributes) written in
that transaction together with the enrolment's new state, so a worker that dies before the commit
leaves neither; the next claim runs the same steps again. Every side effect also carries an
idempotency key ``journey:<enrolment>:<step>:<visit>`` (``visit`` counts the steps the enrolment has
completed), so an effect that leaves the store (the dispatcher's send, a future coupon service)
is deduplicated by whoever receives it, and a replay never doubles it.

A step that raises is rolled back alone (a savepoint), retried with exponential backoff, and after
``MAX_ATTEMPTS`` the enrolment fails with the reason recorded in its trace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains.customers.service import update_profile
from siyu.domains.journeys import definition as d
from siyu.domains.journeys import repository as repo
from siyu.domains.journeys.effects import Pending
from siyu.domains.journeys.enrolling import bucket, definition_of, enrol, entrants, resolve
from siyu.domains.journeys.models import Enrolment, Journey
from siyu.domains.journeys.repository import Running
from siyu.domains.journeys.ports import CouponIssuer
from siyu.domains.outbox import NewMessage
from siyu.domains.segments.service import matching_customers
from siyu.domains.staff import staff_ids_by_userid
from siyu.domains.tags import remove_tag
from siyu.domains.tasks import NewTask
from siyu.kit.crypto import PiiVault

MAX_ATTEMPTS = 5
MAX_STEPS_PER_RUN = 50  # a journey without waits ends well before; the rest continues next claim
BACKOFF = timedelta(seconds=30)


@dataclass
class Context:
    """What steps need from the app: the brand's zone, the PII vault, the ports, the settings; ``after_effect`` is a test hook."""

    tz: ZoneInfo
    vault: PiiVault
    coupons: CouponIssuer
    after_effect: Callable[[Running, d.Step], None] | None = None
    pending: Pending = field(default_factory=Pending)  # one per batch (run_batch makes a copy)
    settings: Settings | None = None  # renders content items into messages (None: text-only messages)


@dataclass
class Outcome:
    """What a step decided: go on to ``next`` (None: the journey is done), wait, or exit."""

    next: str | None = None
    wait_until: datetime | None = None
    waiting_for: str | None = None
    exit: bool = False
    at: datetime | None = None  # when the next step counts as entered (a wait's due time, not the tick)
    detail: dict[str, Any] = field(default_factory=dict)


def effect_key(enrolment: Running, step: d.Step) -> str:
    """Return the idempotency key of a step's side effect in this enrolment's visit."""
    return f"journey:{enrolment.id}:{step.id}:{enrolment.visit}"


# -- waits ---------------------------------------------------------------------------------------


def _wait(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    assert step.duration is not None
    until = e.step_entered_at + step.duration
    if now < until:
        return Outcome(wait_until=until)
    return Outcome(next=step.next, at=until, detail={"waited_until": until.isoformat()})


def next_time_of_day(start: datetime, at: time, zone: ZoneInfo) -> datetime:
    """Return the first moment at or after ``start`` whose wall-clock time in ``zone`` is ``at``."""
    local = start.astimezone(zone)
    candidate = datetime.combine(local.date(), at, tzinfo=zone)
    if candidate < local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(start.tzinfo)


def _wait_until_time(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    assert step.at is not None
    zone = repo.customer_zone(session, e.customer_id) or ctx.tz
    until = next_time_of_day(e.step_entered_at, step.at, zone)
    if now < until:
        return Outcome(wait_until=until)
    return Outcome(next=step.next, at=until, detail={"zone": str(zone), "until": until.isoformat()})


def _wait_for_event(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    assert step.event is not None and step.duration is not None
    deadline = e.step_entered_at + step.duration
    seen = [at for _c, t, props, at in repo.events_of(session, [e.customer_id], [step.event.type], e.step_entered_at,
                                                     min(now, deadline)) if step.event.matches(t, props)]
    if seen:
        return Outcome(next=step.next, detail={"event": step.event.type, "event_at": min(seen).isoformat()})
    if now >= deadline:
        return Outcome(next=step.on_timeout, at=deadline, detail={"event": step.event.type, "timed_out": True})
    return Outcome(wait_until=deadline, waiting_for=step.event.type)


# -- decisions -----------------------------------------------------------------------------------


def _branch(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    rule = step.params["rule"]
    matched = e.customer_id in matching_customers(session, rule, ctx.tz, among=[e.customer_id], now=now)
    return Outcome(next=step.yes if matched else step.no, detail={"matched": matched, "rule": rule})


def _split(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    drawn = bucket("split", e.id, step.id)
    edge = 0
    for index, (percent, target) in enumerate(step.branches):
        edge += percent
        if drawn < edge:
            return Outcome(next=target, detail={"bucket": drawn, "branch": index})
    raise AssertionError("split percentages add up to 100")  # checked by the definition


# -- actions -------------------------------------------------------------------------------------


def _send(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    key = effect_key(e, step)
    payload = {"journey_id": e.journey_id, "version": e.version, "step": step.id, "content": step.params["content"]}
    ctx.pending.messages.append(NewMessage(idempotency_key=key, kind="journey_message", channel=step.params["channel"],
                                           payload=payload, customer_id=e.customer_id,
                                           category=step.params["category"], send_after=now))
    return Outcome(next=step.next, detail={"outbox_key": key, "channel": step.params["channel"]})


def _tag(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    name = step.params["tag"]
    if step.type == "add_tag":  # idempotent: a tag already held is not applied twice
        ctx.pending.tags.append((e.customer_id, [name], f"journey:{e.journey_id}"))
        return Outcome(next=step.next, detail={"tag": name})
    changed = remove_tag(session, e.customer_id, name, at=now, actor=f"journey:{e.journey_id}")
    return Outcome(next=step.next, detail={"tag": name, "changed": changed})


def _task(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    userid = step.params.get("staff")
    key = effect_key(e, step)
    task = NewTask(idempotency_key=key, title=step.params["title"], body=step.params["body"],
                   staff_id=staff_ids_by_userid(session, [userid]).get(userid) if userid else None,
                   customer_id=e.customer_id, due_at=now + step.duration if step.duration else None,
                   source=f"journey:{e.journey_id}")
    (ctx.pending.tasks if userid else ctx.pending.owner_tasks).append(task)
    return Outcome(next=step.next, detail={"task_key": key, "staff": userid or "owner"})


def _coupon(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    ref = ctx.coupons.issue(session, idempotency_key=effect_key(e, step), customer_id=e.customer_id,
                            coupon=step.params["coupon"])
    return Outcome(next=step.next, detail={"coupon": step.params["coupon"], "ref": ref})


def _webhook(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    key = effect_key(e, step)
    body = {**step.params["body"], "journey_id": e.journey_id, "step": step.id, "customer_id": e.customer_id}
    ctx.pending.messages.append(NewMessage(idempotency_key=key, kind="journey_webhook", channel="webhook",
                                           payload={"url": step.params["url"], "body": body},
                                           customer_id=e.customer_id, category="transactional", send_after=now))
    return Outcome(next=step.next, detail={"outbox_key": key, "url": step.params["url"]})


def _attribute(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    name, value = step.params["attribute"], step.params["value"]
    update_profile(session, ctx.vault, e.customer_id, {"attributes": {name: value}}, actor=f"journey:{e.journey_id}")
    return Outcome(next=step.next, detail={"attribute": name, "value": value})


def _enrol(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    target = resolve(session, step.params["journey"])
    entered = enrol(session, target, [e.customer_id], source=f"journey:{e.journey_id}", now=now) \
        if target.status == "active" else 0
    return Outcome(next=step.next, detail={"journey": target.id, "entered": bool(entered), "status": target.status})


def _exit(session: Session, ctx: Context, e: Running, step: d.Step, now: datetime) -> Outcome:
    return Outcome(exit=True, detail={"reason": "exit step"})


RUNNERS: dict[str, Callable[[Session, Context, Running, d.Step, datetime], Outcome]] = {
    "wait": _wait, "wait_until_time": _wait_until_time, "wait_for_event": _wait_for_event, "branch": _branch,
    "split": _split, "send_message": _send, "add_tag": _tag, "remove_tag": _tag, "create_task": _task,
    "issue_coupon": _coupon, "webhook": _webhook, "set_attribute": _attribute, "enrol": _enrol, "exit": _exit,
}
ACTION_TYPES = set(d.ACTIONS) - {"exit"}
STATE = ("status", "step", "step_entered_at", "visit", "next_run_at", "lease_until", "attempt", "waiting_for", "reason",
         "finished_at")
RUNNING_FIELDS = tuple(f.name for f in fields(Running))


def _run_row(e: Running | Enrolment, step: d.Step, outcome: str, nxt: str | None, detail: dict[str, Any],
             now: datetime) -> dict[str, Any]:
    return {"enrolment_id": e.id, "journey_id": e.journey_id, "version": e.version, "visit": e.visit,
            "step": step.id, "outcome": outcome, "next_step": nxt, "detail": detail, "at": now}


def finish(e: Running | Enrolment, status: str, now: datetime, reason: str | None = None) -> None:
    """End an enrolment (done, exited or failed)."""
    e.status, e.finished_at, e.next_run_at, e.waiting_for, e.lease_until = status, now, None, None, None
    e.reason = reason


def advance(session: Session, ctx: Context, e: Running, spec: d.Journey, now: datetime,
            stop: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Run an enrolment's steps until it waits or ends (or reaches a step of a type in ``stop``: it is due
    then); return the step runs to record."""
    runs: list[dict[str, Any]] = []
    for _ in range(MAX_STEPS_PER_RUN):
        step = spec.steps[e.step or ""]
        if step.type in stop:
            break
        outcome = RUNNERS[step.type](session, ctx, e, step, now)
        if outcome.wait_until is not None:
            e.next_run_at, e.waiting_for = outcome.wait_until, outcome.waiting_for
            return runs
        if ctx.after_effect is not None and step.type in ACTION_TYPES:
            ctx.after_effect(e, step)
        kind = "exited" if outcome.exit else "done"
        runs.append(_run_row(e, step, kind, outcome.next, outcome.detail, now))
        e.visit, e.attempt, e.waiting_for, e.reason = e.visit + 1, 0, None, None
        if outcome.exit or outcome.next is None:
            finish(e, "exited" if outcome.exit else "done", now, outcome.detail.get("reason"))
            return runs
        e.step, e.step_entered_at = outcome.next, outcome.at or now
    e.next_run_at = now
    return runs


def _failed(e: Running, spec: d.Journey, error: Exception, now: datetime) -> list[dict[str, Any]]:
    """Record a failed attempt on ``e`` (the state it was claimed in); return the step run if it gave up."""
    e.attempt += 1
    reason = f"{type(error).__name__}: {error}"[:200]
    e.lease_until = None
    if e.attempt >= MAX_ATTEMPTS:
        step = spec.steps[e.step or ""]
        row = _run_row(e, step, "failed", None, {"error": reason, "attempts": e.attempt}, now)
        finish(e, "failed", now, reason)
        return [row]
    e.reason, e.next_run_at = reason, now + BACKOFF * 2 ** (e.attempt - 1)
    return []


def _advance_all(session: Session, ctx: Context, claimed: list[Running], specs: dict[tuple[int, int], d.Journey],
                 now: datetime, *, isolate: bool, stop: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for index, e in enumerate(claimed):
        spec = specs[(e.journey_id, e.version)]
        if not isolate:
            runs += advance(session, ctx, e, spec, now, stop)
            e.lease_until = None
            continue
        before = replace(e)
        try:
            with session.begin_nested():
                done = advance(session, ctx, e, spec, now)
                ctx.pending.flush(session, now, ctx.settings)
                e.lease_until = None
            runs += done
        except Exception as error:  # noqa: BLE001  (any failure of one customer's step must not stop the batch)
            ctx.pending.clear()
            claimed[index] = before
            runs += _failed(before, spec, error, now)
    if not isolate:
        ctx.pending.flush(session, now, ctx.settings)
    return runs


def run_batch(session: Session, ctx: Context, journey_ids: list[int], now: datetime, *, limit: int = 500,
              lease: timedelta = timedelta(minutes=5)) -> tuple[int, int]:
    """Claim up to ``limit`` due enrolments and run them; return (enrolments claimed, step runs recorded).

    The batch first runs under one savepoint; if any step raises, that savepoint is rolled back and
    the batch runs again from the claimed state with a savepoint per enrolment, so the failing
    customer is retried alone. A savepoint per enrolment on every batch would cost two more round
    trips per enrolment.
    """
    claimed = repo.claim_due(session, journey_ids, now, limit, now + lease)
    ctx = replace(ctx, pending=Pending())
    specs: dict[tuple[int, int], d.Journey] = {}
    for e in claimed:
        if (e.journey_id, e.version) not in specs:
            specs[(e.journey_id, e.version)] = definition_of(session, e.journey_id, e.version)
    runs = run_claimed(session, ctx, claimed, specs, now)
    repo.save_states(session, [{c: getattr(e, c) for c in STATE} | {"id": e.id} for e in claimed])
    repo.add_runs(session, runs)
    return len(claimed), len(runs)


def run_claimed(session: Session, ctx: Context, claimed: list[Running], specs: dict[tuple[int, int], d.Journey],
                now: datetime) -> list[dict[str, Any]]:
    """Advance enrolments this transaction holds (``claimed`` is updated in place); return the step runs."""
    snapshot = [replace(e) for e in claimed]
    try:
        with session.begin_nested():
            return _advance_all(session, ctx, claimed, specs, now, isolate=False)
    except Exception:  # noqa: BLE001  (rerun isolated: the failing step is found and retried alone)
        ctx.pending.clear()
        claimed[:] = snapshot
        return _advance_all(session, ctx, claimed, specs, now, isolate=True)


# Steps whose port may act outside the store (a real coupon service). Entering runs them only on a
# committed enrolment: a replay after a crash keeps its id, so the effect's key is the same.
LEAVES_STORE = frozenset({"issue_coupon"})


class _Lost(Exception):
    """A concurrent enrolment of the same customer won: the fused entry is abandoned."""


def enter(session: Session, ctx: Context, journey: Journey, customer_ids: Sequence[int], *, source: str,
          now: datetime) -> tuple[int, int]:
    """Enrol customers from a trigger and run their first steps in this transaction; return (entered, step runs).

    Enrolment and first step fused: the new rows are written once, already at their first wait (or
    done), instead of inserted, claimed, run and updated in a later batch. Their ids are drawn before
    the steps run, so the steps' idempotency keys are the ones a claim would give them. A step whose
    port may leave the store (``LEAVES_STORE``) is left due for a claim. If a step raises, or a
    concurrent enrolment of the same customer wins, the savepoint is rolled back and the customers
    are enrolled as before, due now: the next claim runs them (and isolates a failing step).
    """
    spec, rows = entrants(session, journey, customer_ids, source=source, now=now)
    if not rows:
        return 0, 0
    for row, new_id in zip(rows, repo.new_enrolment_ids(session, len(rows)), strict=True):
        row["id"] = new_id
    states = [Running(**{f: row[f] for f in RUNNING_FIELDS}) for row in rows if row["status"] == "active"]
    ctx = replace(ctx, pending=Pending())
    try:
        with session.begin_nested():
            runs = _advance_all(session, ctx, states, {(journey.id, journey.current_version): spec}, now,
                                isolate=False, stop=LEAVES_STORE)
            ran = {e.id: e for e in states}
            final = [row | {c: getattr(ran[row["id"]], c) for c in STATE} if row["id"] in ran else row for row in rows]
            if repo.insert_enrolments(session, final) not in (len(final), -1):
                raise _Lost
            repo.add_runs(session, runs)
    except Exception:  # noqa: BLE001  (enrol without running: the claim path retries the step alone)
        ctx.pending.clear()
        repo.insert_enrolments(session, rows)
        return len(rows), 0
    return len(rows), len(runs)


def exit_enrolments(session: Session, enrolments: list[Enrolment], reason: str, now: datetime) -> int:
    """End active enrolments early (an exit event, the goal reached), recording it in their trace."""
    runs = []
    for e in enrolments:
        if e.status != "active":
            continue
        runs.append({"enrolment_id": e.id, "journey_id": e.journey_id, "version": e.version, "visit": e.visit,
                     "step": e.step or "", "outcome": "exited", "next_step": None, "detail": {"reason": reason},
                     "at": now})
        e.visit += 1
        finish(e, "exited", now, reason)
    session.flush()
    repo.add_runs(session, runs)
    return len(runs)

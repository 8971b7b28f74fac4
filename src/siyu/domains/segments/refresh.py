"""Keeping segments and rule tags current: full and incremental evaluation, in dependency order.

Both segments and rule tags are *targets*: a parsed rule and the customers who currently satisfy it
(open segment stays, or open ``rule`` holds of the tag). Evaluating a target diffs the rule's answer
with the stored one and records only the change: customers who entered get a stay (or a hold) from
now, customers who left have theirs closed now, so the history says when each was gained and lost.

- **Full** (on schedule, after a rule changes, ``siyu segment refresh --full``): every live customer.
  Rules that move with the clock ("birthday within 7 days", "in the last 30 days") need it, and so
  do changes nothing records per customer (profiles updated in bulk by import, scores written back).
- **Incremental** (every turn of the refresher, ``siyu segment refresh``): only the customers whose
  facts arrived since the watermarks (ids of events, order facts, follow relations, group stays,
  tag holds, identities, merges, new customers, and audit entries of profile edits, merges, unmerges
  and splits; tag holds removed since the last turn), re-evaluated with the rule restricted to them. A customer's membership depends only on their own rows, so evaluating the
  changed customers gives exactly what a full evaluation would give for them (tested as a property).

Targets are evaluated in dependency order (a segment that reads another segment or a rule tag comes
after it), so a dependent sees the memberships its dependencies just got; cycles are refused when a
rule is saved (:func:`check_acyclic`).

Two ways to run a refresh: :func:`refresh_full` and :func:`refresh_incremental` do it all in the
caller's unit of work (a rule saved, ``siyu segment refresh``); the scheduled refresher
(:mod:`siyu.worker.segments`) splits a turn so that no writer waits on it for long: :func:`plan` and
:func:`diff` read in reader transactions, :func:`apply` writes a slice of a diff in a short writer
transaction (skipping a target whose rule changed since it was read, and customers already in), and
:func:`finish` stores the watermarks once every target is written; a turn that dies half way leaves
them where they were, so the next one does its work again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.db.bulk import chunks
from siyu.domains.tags import service as tag_service
from siyu.domains.identity import service as identity
from siyu.domains.segments import repository as repo
from siyu.domains.segments import rules
from siyu.domains.segments.rule_repository import Clock, Compiler
from siyu.errors import ValidationFailed
from siyu.kit.time import UTC, utcnow

RESTRICT_CHUNK = 1000  # customers per restricted evaluation: each set's IN list stays small for both stores


@dataclass
class Target:
    """A rule whose members are stored: a segment (``segment:<id>``) or a rule tag (``tag:<name>``)."""

    key: str
    node: rules.Node
    current: Callable[[Session, Sequence[int] | None], set[int]]
    enter: Callable[[Session, Iterable[int], datetime], None]
    leave: Callable[[Session, Iterable[int], datetime], None]
    mark: Callable[[Session, datetime, bool, int, int], None]  # (at, full, entered, exited)
    raw: dict[str, Any]  # the stored rule it was parsed from
    stored: Callable[[Session], dict[str, Any] | None]  # the stored rule now (None: gone)


@dataclass
class Outcome:
    """What one refresh did."""

    full: bool
    customers: int | None = None  # incremental: how many customers were re-evaluated
    changed: list[int] = field(default_factory=list)  # incremental: which
    entered: dict[str, int] = field(default_factory=dict)
    exited: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def segment_key(segment_id: int) -> str:
    """Return the target key of a segment."""
    return f"segment:{segment_id}"


def tag_key(name: str) -> str:
    """Return the target key of a rule tag."""
    return f"tag:{name}"


def _segment_target(segment_id: int, raw: dict[str, Any]) -> Target:
    def mark(session: Session, at: datetime, full: bool, entered: int, exited: int) -> None:
        values = {"refreshed_at": at} if full else {"touched_at": at}
        repo.set_state(session, segment_id, members=repo.member_count(session, segment_id), **values)

    return Target(segment_key(segment_id), rules.parse(raw), lambda s, among: repo.open_members(s, segment_id, among),
                  lambda s, ids, at: repo.enter(s, segment_id, ids, at),
                  lambda s, ids, at: repo.exit_(s, segment_id, ids, at), mark,
                  raw, lambda s: repo.rule_now(s, segment_id))


def _tag_target(tag_id: int, name: str, raw: dict[str, Any]) -> Target:
    return Target(tag_key(name), rules.parse(raw), lambda s, among: tag_service.rule_holders(s, tag_id, among),
                  lambda s, ids, at: tag_service.grant_rule(s, tag_id, ids, at),
                  lambda s, ids, at: tag_service.revoke_rule(s, tag_id, ids, at),
                  lambda s, at, full, _e, _x: tag_service.mark_rule_evaluated(s, tag_id, at, full=full),
                  raw, lambda s: tag_service.rule_now(s, tag_id))


def all_targets(session: Session) -> list[Target]:
    """Return every segment and rule tag, dependencies first."""
    found = [_segment_target(s.id, s.rule) for s in repo.all_segments(session)]
    found += [_tag_target(t.id, t.name, r.rule) for r, t in tag_service.rule_tags(session)]
    graph = {t.key: _reads(t.node, {x.key for x in found}) for t in found}
    order = _topological(graph)
    by_key = {t.key: t for t in found}
    return [by_key[k] for k in order]


def _reads(node: rules.Node, known: set[str]) -> set[str]:
    """Return the targets a rule reads (tags that are not rule tags are plain data)."""
    keys = {segment_key(i) for i in rules.segment_refs(node)} | {tag_key(n) for n in rules.tag_refs(node)}
    return keys & known


def _topological(graph: dict[str, set[str]]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(key: str) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            raise ValidationFailed(f"{key} depends on itself through other rules", code="rule_cycle")
        state[key] = 1
        for dep in sorted(graph.get(key, ())):
            visit(dep)
        state[key] = 2
        order.append(key)

    for key in sorted(graph):
        visit(key)
    return order


def check_acyclic(session: Session, key: str, node: rules.Node) -> None:
    """Refuse a rule for ``key`` that would make it depend on itself through other segments or rule tags."""
    targets = {t.key: t for t in all_targets(session)}
    known = set(targets) | {key}
    graph = {k: _reads(t.node, known) for k, t in targets.items()}
    graph[key] = _reads(node, known)
    try:
        _topological(graph)
    except ValidationFailed as exc:
        raise ValidationFailed(f"this rule would make {key} depend on itself (through "
                               f"{', '.join(sorted(graph[key]))})", code="rule_cycle", field="rule") from exc


def dependents(session: Session, keys: set[str]) -> list[Target]:
    """Return the targets named by ``keys`` and every target that reads them, dependencies first."""
    ordered = all_targets(session)
    known = {t.key for t in ordered}
    chosen = set(keys)
    for target in ordered:  # dependencies come first, so one pass closes the set
        if _reads(target.node, known) & chosen:
            chosen.add(target.key)
    return [t for t in ordered if t.key in chosen]


def evaluate(session: Session, target: Target, clock: Clock, restrict: Sequence[int] | None = None,
             *, full: bool) -> tuple[int, int]:
    """Bring one target's stored members up to date (among ``restrict``); return (entered, exited)."""
    joined, left = diff(session, target, clock, restrict)
    apply(session, target, joined, left, clock.now)
    target.mark(session, clock.now, full, len(joined), len(left))
    return len(joined), len(left)


def diff(session: Session, target: Target, clock: Clock,
         restrict: Sequence[int] | None = None) -> tuple[set[int], set[int]]:
    """Return who satisfies the target's rule but is not stored as in, and who is stored but no longer does."""
    postgres = session.get_bind().dialect.name == "postgresql"
    parts: list[Sequence[int] | None] = [None] if restrict is None else list(chunks(sorted(restrict), RESTRICT_CHUNK))
    joined: set[int] = set()
    left: set[int] = set()
    for part in parts:
        now_in = repo.evaluate(session, Compiler(clock, postgres, part).members(target.node))
        before = target.current(session, part)
        joined |= now_in - before
        left |= before - now_in
    return joined, left


def apply(session: Session, target: Target, joined: Iterable[int], left: Iterable[int], at: datetime) -> bool:
    """Store (part of) a diff; False, writing nothing, if the target's rule changed or went since it was read.

    Customers already in are not entered again, so a slice written twice (a turn that died and was
    taken again, a rule saved meanwhile) never opens a second stay.
    """
    if target.stored(session) != target.raw:
        return False
    joined = sorted(joined)
    target.enter(session, set(joined) - target.current(session, joined), at)
    target.leave(session, left, at)
    return True


@dataclass
class Plan:
    """What one turn of the scheduled refresher re-evaluates, read in one reader transaction."""

    full: bool
    clock: Clock
    targets: list[Target]
    changed: list[int] | None  # the customers re-evaluated (None: everyone); [] nothing but watermarks
    marks: dict[str, int]  # the id watermarks stored when the turn ends


def plan(session: Session, tz: ZoneInfo, *, full: bool, now: datetime | None = None) -> Plan | None:
    """Read what a split turn must do: every customer, or those whose facts changed (None: nothing did).

    The id watermarks are read under the identity-graph lock (every ingestion batch holds it), so on
    PostgreSQL no id below them can still be uncommitted; everything the turn then reads sees at
    least those facts, and later ones are the next turn's.
    """
    low = repo.watermarks(session)
    full = full or not low or "events" not in low
    identity.lock(session)
    high = repo.tops(session)
    clock = Clock(now or utcnow(), tz)
    targets = all_targets(session)
    if full:
        return Plan(True, clock, targets, None, high)
    if all(high[name] <= low.get(name, 0) for name in high):
        return None
    watched = sorted({n for t in targets for n in rules.tag_refs(t.node)})
    since = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=low["clock"]) if "clock" in low else None
    return Plan(False, clock, targets, sorted(repo.changed_customers(session, low, high, since, watched)), high)


def finish(session: Session, plan: Plan) -> None:
    """Store the watermarks of a split turn whose every target has been written."""
    extra = {"full": int(plan.clock.now.timestamp())} if plan.full else {}
    repo.save_watermarks(session, {**plan.marks, "clock": _micros(plan.clock.now), **extra})


def refresh_full(session: Session, tz: ZoneInfo, *, keys: set[str] | None = None, now: datetime | None = None) -> Outcome:
    """Evaluate every target (or ``keys`` and what reads them) over all customers.

    The id watermarks are set only the first time (under the identity-graph lock, see
    :func:`refresh_incremental`); afterwards they stay with the incremental refresh, which then
    re-evaluates the customers whose facts arrived meanwhile: harmless, and it never holds the lock
    for a whole evaluation.
    """
    started = time.perf_counter()
    session.flush()
    marks = None
    if keys is None and not repo.watermarks(session):
        identity.lock(session)
        marks = repo.tops(session)  # taken first: facts arriving meanwhile come next turn
    clock = Clock(now or utcnow(), tz)
    outcome = Outcome(full=True)
    for target in all_targets(session) if keys is None else dependents(session, keys):
        outcome.entered[target.key], outcome.exited[target.key] = evaluate(session, target, clock, full=True)
    if keys is None:
        repo.save_watermarks(session, {**(marks or {}), "clock": _micros(clock.now), "full": int(clock.now.timestamp())})
    outcome.seconds = time.perf_counter() - started
    return outcome


def _micros(at: datetime) -> int:
    """Return ``at`` in whole microseconds since the epoch (the watermark of removed tag holds)."""
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def pending(session: Session) -> bool:
    """Return whether facts arrived since the last refresh (a cheap check in a reader transaction)."""
    low = repo.watermarks(session)
    return not low or any(top > low.get(name, 0) for name, top in repo.tops(session).items())


def last_full(session: Session) -> datetime | None:
    """Return when every target was last evaluated over all customers."""
    stamp = repo.watermarks(session).get("full")
    return None if stamp is None else datetime.fromtimestamp(stamp, tz=UTC)


def refresh_incremental(session: Session, tz: ZoneInfo, *, now: datetime | None = None,
                        before: Callable[[list[int]], None] | None = None) -> Outcome | None:
    """Re-evaluate every target for the customers whose facts changed since the last refresh.

    Returns None when nothing changed. Never refreshed before: a full refresh instead. It holds the
    identity-graph lock, which every ingestion batch holds, so on PostgreSQL no id below the new
    watermarks can still be uncommitted. ``before`` (the interest tags) runs on the changed customers
    before the rules are evaluated, so rules see its holds and its own writes are not seen as news.
    """
    started = time.perf_counter()
    session.flush()  # rows staged in this unit of work (audit entries) get their ids first
    low = repo.watermarks(session)
    if not low or "events" not in low:
        return refresh_full(session, tz, now=now)
    identity.lock(session)
    high = repo.tops(session)
    if all(high[name] <= low.get(name, 0) for name in high):
        return None
    clock = Clock(now or utcnow(), tz)
    targets = all_targets(session)
    watched = sorted({n for t in targets for n in rules.tag_refs(t.node)})
    since = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=low["clock"]) if "clock" in low else None
    changed = repo.changed_customers(session, low, high, since, watched)
    if changed and before is not None:
        before(sorted(changed))
        high = repo.tops(session)
    repo.save_watermarks(session, {**high, "clock": _micros(clock.now)})
    if not changed:
        return None
    outcome = Outcome(full=False, customers=len(changed), changed=sorted(changed))
    for target in targets:
        outcome.entered[target.key], outcome.exited[target.key] = evaluate(session, target, clock, sorted(changed),
                                                                           full=False)
    outcome.seconds = time.perf_counter() - started
    return outcome

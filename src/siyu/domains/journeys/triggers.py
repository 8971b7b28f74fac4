"""Feeding journeys from facts: new events and order facts, new segment stays, and the daily scan.

Event and segment triggers read what arrived after a watermark (the id of the last fact read), in
their own transaction after ingestion committed, not inside it: ingestion stays as fast as it was,
and a journey sees a fact within one scheduler tick. On PostgreSQL the identity-graph lock that
every ingestion batch holds is taken while the highest ids are read, so no id below them can still
be uncommitted (the segments refresh does the same). The watermark rows are locked with SKIP LOCKED,
so one scheduler feeds while the others run steps.

Date triggers (birthday, an anniversary held in a custom attribute, the monthly member day) and
inactivity ("no X for N days") are evaluated once per brand-local day per journey, as rules of the
segment language run over all customers; the re-entry policy keeps a customer from entering twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains.identity.service import lock as lock_identity_graph
from siyu.domains.journeys import definition as d
from siyu.domains.journeys import repository as repo
from siyu.domains.journeys.engine import Context, enter, exit_enrolments
from siyu.domains.journeys.enrolling import definition_of
from siyu.domains.journeys.models import Journey
from siyu.domains.segments.service import matching_customers, stays_after, top_stay_id

FEEDS = ("events", "order_facts", "segment_stays")


@dataclass
class Fed:
    """What one feeding pass did."""

    facts: int = 0
    enrolled: int = 0
    steps: int = 0  # first steps run as customers entered
    exited: int = 0
    woken: int = 0
    more: bool = False  # a batch limit was hit: feed again
    by_journey: dict[int, int] = field(default_factory=dict)


def _active(session: Session) -> list[tuple[Journey, d.Journey]]:
    return [(j, definition_of(session, j.id, j.current_version)) for j in repo.journeys(session, "active")]


def _read_facts(session: Session, marks: dict[str, int], limit: int) -> tuple[list[tuple[Any, ...]], dict[str, int], bool]:
    lock_identity_graph(session)
    tops = repo.top_ids(session)
    facts: list[tuple[Any, ...]] = []
    more = False
    new = dict(marks)
    for name, reader in (("events", repo.events_between), ("order_facts", repo.order_facts_between)):
        rows = reader(session, marks[name], tops[name], limit)
        facts += rows
        more = more or len(rows) == limit
        new[name] = rows[-1][0] if len(rows) == limit else max(tops[name], marks[name])
    return facts, new, more


def feed_facts(session: Session, ctx: Context, now: datetime, *, limit: int = 5000) -> Fed | None:
    """Enrol, wake and exit customers from facts that arrived since the watermarks; None if another worker feeds."""
    marks = repo.lock_watermarks(session, list(FEEDS))
    if marks is None:
        return None
    journeys = _active(session)
    facts, new, more = _read_facts(session, marks, limit)
    stays = stays_after(session, marks["segment_stays"], limit=limit)
    new["segment_stays"] = stays[-1].id if len(stays) == limit else max(top_stay_id(session), marks["segment_stays"])
    fed = Fed(facts=len(facts) + len(stays), more=more or len(stays) == limit)
    entries: dict[int, list[int]] = defaultdict(list)
    exits: dict[tuple[int, str], set[int]] = defaultdict(set)
    for _id, cid, type_, props, _at, received in facts:
        for j, spec in journeys:
            if spec.trigger.type == "event" and spec.trigger.event and spec.trigger.event.matches(type_, props) \
                    and j.activated_at and received >= j.activated_at:
                entries[j.id].append(cid)
            for ex in spec.exit_on:
                if ex.matches(type_, props):
                    exits[(j.id, f"exit event {type_}")].add(cid)
            if spec.goal and spec.exit_on_goal and spec.goal.matches(type_, props):
                exits[(j.id, "goal reached")].add(cid)
    for stay in stays:
        for j, spec in journeys:
            if spec.trigger.type == "segment_entered" and spec.trigger.segment == stay.segment_id \
                    and j.activated_at and stay.entered_at >= j.activated_at:
                entries[j.id].append(stay.customer_id)
    by_id = {j.id: j for j, _s in journeys}
    for jid, cids in entries.items():
        fed.by_journey[jid], ran = enter(session, ctx, by_id[jid], cids, source="trigger", now=now)
        fed.enrolled, fed.steps = fed.enrolled + fed.by_journey[jid], fed.steps + ran
    for (jid, reason), cids in exits.items():
        fed.exited += exit_enrolments(session, repo.active_of(session, [jid], sorted(cids)), reason, now)
    if facts:
        fed.woken = repo.wake(session, ((cid, t) for _i, cid, t, *_rest in facts), _awaited(session, journeys), now)
    for name, value in new.items():
        repo.set_watermark(session, name, value)
    return fed


def _awaited(session: Session, journeys: list[tuple[Journey, d.Journey]]) -> set[str]:
    """Return the event types a wait step of any version of a running journey waits for."""
    types: set[str] = set()
    for j, _spec in journeys:
        for v in repo.versions(session, j.id):
            spec = definition_of(session, j.id, v.version)
            types |= {s.event.type for s in spec.steps.values() if s.type == "wait_for_event" and s.event}
    return types


def daily_rule(trigger: d.Trigger, today: date) -> dict[str, Any] | None:
    """Return the segment rule selecting who a date or inactivity trigger enrols today (None: nobody today)."""
    rule: dict[str, Any] | None = None
    if trigger.type == "date" and trigger.date_kind == "birthday":
        rule = {"attribute": "birthday", "op": "anniversary_within_days", "value": 0}
    elif trigger.type == "date" and trigger.date_kind == "anniversary":
        rule = {"attribute": f"attributes.{trigger.attribute}", "op": "ends_with", "value": today.strftime("-%m-%d")}
    elif trigger.type == "date" and trigger.date_kind == "member_day":
        rule = {"attribute": "first_seen_at", "op": "is_set"} if today.day == trigger.day_of_month else None
    elif trigger.type == "inactivity" and trigger.event and trigger.days:
        rule = _silence(trigger.event.type, trigger.days, today)
    if rule is None or trigger.audience is None:
        return rule
    return {"all": [rule, trigger.audience]}


def _silence(event_type: str, days: int, today: date) -> dict[str, Any]:
    """Customers whose last ``event_type`` was exactly ``days`` days ago (so each silence enrols once)."""
    if event_type == "order_paid":  # order facts: the last paid order, from the orders the store keeps
        return {"order": "last_at", "op": "on", "value": (today - timedelta(days=days)).isoformat()}
    return {"all": [{"event": event_type, "op": "did", "window": {"last_days": days + 1}},
                    {"event": event_type, "op": "did_not", "window": {"last_days": days}}]}


def daily_scan(session: Session, ctx: Context, now: datetime) -> dict[int, tuple[int, int]]:
    """Enrol today's customers of every active date or inactivity journey not yet scanned today, running
    their first steps; return {journey: (entered, step runs)}."""
    today = now.astimezone(ctx.tz).date()
    done: dict[int, tuple[int, int]] = {}
    for j, spec in _active(session):
        if spec.trigger.type not in ("date", "inactivity"):
            continue
        name = f"daily:{j.id}"
        marks = repo.lock_watermarks(session, [name])
        if marks is None or marks[name] >= today.toordinal():
            continue
        rule = daily_rule(spec.trigger, today)
        ids = sorted(matching_customers(session, rule, ctx.tz, now=now)) if rule else []
        done[j.id] = enter(session, ctx, j, ids, source=f"date:{today.isoformat()}", now=now)
        repo.set_watermark(session, name, today.toordinal())
    return done

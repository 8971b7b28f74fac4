"""Journeys (SOP): define, validate, publish, pause, version, enrol by hand, count, trace.

Versioning: a journey's definition lives in numbered versions. A version that has been published is
never changed: editing a journey after it ran creates a new version that new customers get, while
enrolled customers stay on theirs unless :func:`migrate` moves them (only when every step they are at
exists in the new version). A draft's version is edited in place.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains.access import audit
from siyu.domains.journeys import definition as d
from siyu.domains.journeys import repository as repo
from siyu.domains.journeys.content import check_refs
from siyu.domains.journeys.enrolling import definition_of, enrol, resolve
from siyu.domains.journeys.models import Enrolment, Journey, JourneyVersion, StepRun
from siyu.domains.journeys.stats import Interval, newcombe, wilson
from siyu.domains.segments.service import check_rule, get_segment, top_stay_id
from siyu.errors import Conflict, NotFound, SiyuError, ValidationFailed
from siyu.kit.time import utcnow


def _clean_name(name: str) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > 80:
        raise ValidationFailed("a journey name must be 1-80 characters", code="invalid_name", field="name")
    return cleaned


def validate(session: Session, raw: Any, *, self_id: int | None = None) -> d.Journey:
    """Check a definition and what it names in the store (segments, rules, journeys); return it parsed."""
    spec = d.parse(raw)
    errors: list[dict[str, str]] = []
    if spec.trigger.type == "segment_entered" and spec.trigger.segment is not None:
        try:
            get_segment(session, spec.trigger.segment)
        except NotFound:
            errors.append({"path": "$.trigger.segment", "code": "unknown_segment",
                           "message": f"segment {spec.trigger.segment} does not exist"})
    for path, rule in spec.rules.items():
        try:
            check_rule(session, rule)
        except SiyuError as exc:
            for item in exc.details.get("errors", []) or [{"path": "$", "code": exc.code, "message": exc.message}]:
                errors.append({**item, "path": path + str(item.get("path", "$"))[1:], **_step_of(raw, path)})
    for index, step in enumerate(raw["steps"]):
        if step.get("type") == "send_message":
            missing = check_refs(session, step["content"])
            if missing:
                errors.append({"path": f"$.steps[{index}].content", "code": "unknown_content", "step": step["id"],
                               "message": missing})
        if step.get("type") == "enrol" and step.get("journey") not in (self_id,):
            try:
                resolve(session, step["journey"])
            except NotFound:
                errors.append({"path": f"$.steps[{index}].journey", "code": "unknown_journey", "step": step["id"],
                               "message": f"journey {step['journey']!r} does not exist"})
    if errors:
        first = errors[0]
        raise d.InvalidJourney(f"{first['path']}: {first['message']}", errors=errors)
    return spec


def _step_of(raw: dict[str, Any], path: str) -> dict[str, str]:
    if path.startswith("$.steps["):
        return {"step": raw["steps"][int(path[len("$.steps["):path.index("]")])]["id"]}
    return {}


def create_journey(session: Session, *, name: str, definition: Any, description: str = "",
                   actor: str) -> Journey:
    """Create a draft journey with its first version (validated)."""
    name = _clean_name(name)
    if repo.by_name(session, name) is not None:
        raise Conflict(f"journey {name!r} already exists", code="journey_exists")
    spec = validate(session, definition)
    now = utcnow()
    journey = Journey(name=name, description=description or "", status="draft", trigger_type=spec.trigger.type,
                      current_version=1, created_by=actor, created_at=now, updated_at=now)
    repo.add(session, journey)
    repo.add(session, JourneyVersion(journey_id=journey.id, version=1, definition=definition, published=False,
                                     created_by=actor, created_at=now))
    audit(session, actor, "journey.create", "journey", journey.id, {"name": name})
    return journey


def get_journey(session: Session, ref: int | str) -> Journey:
    """Return a journey by id or name."""
    return resolve(session, ref)


def list_journeys(session: Session, status: str | None = None) -> list[Journey]:
    """Return journeys by id."""
    return repo.journeys(session, status)


def versions(session: Session, ref: int | str) -> list[JourneyVersion]:
    """Return a journey's versions, oldest first."""
    return repo.versions(session, resolve(session, ref).id)


def active_enrolments(session: Session, journey_id: int) -> int:
    """Return how many enrolments of a journey are running."""
    return repo.active_count(session, journey_id)


def current_definition(session: Session, journey: Journey) -> dict[str, Any]:
    """Return the raw definition of a journey's current version."""
    row = repo.version(session, journey.id, journey.current_version)
    assert row is not None
    return row.definition


def update_definition(session: Session, ref: int | str, definition: Any, *, actor: str) -> JourneyVersion:
    """Replace a journey's definition: in place while a draft, else as a new version new customers get."""
    journey = resolve(session, ref)
    spec = validate(session, definition, self_id=journey.id)
    current = repo.version(session, journey.id, journey.current_version)
    assert current is not None
    now = utcnow()
    if not current.published:
        current.definition, current.created_at = definition, now
        row = current
    else:
        row = JourneyVersion(journey_id=journey.id, version=journey.current_version + 1, definition=definition,
                             published=journey.status == "active", created_by=actor, created_at=now)
        repo.add(session, row)
        journey.current_version = row.version
    journey.trigger_type, journey.updated_at = spec.trigger.type, now
    session.flush()
    audit(session, actor, "journey.edit", "journey", journey.id, {"version": row.version})
    return row


def publish(session: Session, ref: int | str, *, actor: str, now: datetime | None = None) -> Journey:
    """Start (or resume) a journey: triggers enrol into its current version from now on."""
    journey = resolve(session, ref)
    if journey.status == "archived":
        raise Conflict("an archived journey cannot run again", code="journey_archived")
    validate(session, current_definition(session, journey), self_id=journey.id)
    now = now or utcnow()
    current = repo.version(session, journey.id, journey.current_version)
    assert current is not None
    current.published = True
    # the feeders start where the store is now: history before the first journey is never read
    repo.ensure_watermarks(session, {**repo.top_ids(session), "segment_stays": top_stay_id(session)})
    if journey.status != "active":
        journey.status, journey.activated_at, journey.updated_at = "active", now, now
    session.flush()
    audit(session, actor, "journey.publish", "journey", journey.id, {"version": journey.current_version})
    return journey


def pause(session: Session, ref: int | str, *, actor: str) -> Journey:
    """Pause a journey: no new enrolments and no steps run until it is published again."""
    journey = resolve(session, ref)
    if journey.status != "active":
        raise Conflict(f"journey {journey.name!r} is {journey.status}, not active", code="journey_not_active")
    journey.status, journey.updated_at = "paused", utcnow()
    session.flush()
    audit(session, actor, "journey.pause", "journey", journey.id, {})
    return journey


def enrol_customers(session: Session, ref: int | str, customer_ids: list[int], *, actor: str,
                    now: datetime | None = None) -> int:
    """Enrol customers by hand (any trigger type) into an active journey; return how many entered."""
    journey = resolve(session, ref)
    if journey.status != "active":
        raise Conflict(f"journey {journey.name!r} is {journey.status}: publish it first", code="journey_not_active")
    if not customer_ids or len(customer_ids) > 10_000:
        raise ValidationFailed("enrol 1-10,000 customers at a time", code="invalid_customers", field="customer_ids")
    known = repo.live_customers(session, customer_ids)
    missing = sorted(set(customer_ids) - known)
    if missing:
        raise NotFound(f"no customers {missing[:10]}", code="customer_not_found", customer_ids=missing[:10])
    entered = enrol(session, journey, customer_ids, source=f"manual:{actor}", now=now or utcnow())
    audit(session, actor, "journey.enrol", "journey", journey.id, {"customers": len(customer_ids), "entered": entered})
    return entered


def migrate(session: Session, ref: int | str, from_version: int, *, actor: str) -> int:
    """Move the active enrolments of an older version to the current one; every step they are at must exist there."""
    journey = resolve(session, ref)
    if from_version == journey.current_version or repo.version(session, journey.id, from_version) is None:
        raise ValidationFailed("from_version is an older existing version", code="invalid_version",
                               field="from_version")
    target = definition_of(session, journey.id, journey.current_version)
    missing = sorted(s for s in repo.active_steps(session, journey.id, from_version) if s not in target.steps)
    if missing:
        raise Conflict(f"steps {', '.join(missing)} do not exist in version {journey.current_version}",
                       code="steps_missing", steps=missing)
    moved = repo.migrate(session, journey.id, from_version, journey.current_version)
    audit(session, actor, "journey.migrate", "journey", journey.id,
          {"from": from_version, "to": journey.current_version, "enrolments": moved})
    return moved


# -- observability -------------------------------------------------------------------------------


@dataclass
class StepCount:
    step: str
    type: str
    entered: int = 0
    waiting: int = 0
    done: int = 0
    failed: int = 0
    exited: int = 0


def step_counts(session: Session, ref: int | str, version: int | None = None) -> list[StepCount]:
    """Return per-step counts of one version (the current by default), in definition order."""
    journey = resolve(session, ref)
    number = version or journey.current_version
    spec = definition_of(session, journey.id, number)
    counts = {sid: StepCount(sid, s.type) for sid, s in spec.steps.items()}
    for v, step, outcome, n in repo.run_counts(session, journey.id):
        if v == number and step in counts:
            setattr(counts[step], outcome, getattr(counts[step], outcome) + n)
    for v, step, status, n in repo.status_counts(session, journey.id):
        if v == number and status == "active" and step in counts:
            counts[step].waiting += n
    for c in counts.values():
        c.entered = c.waiting + c.done + c.failed + c.exited
    return list(counts.values())


@dataclass
class Conversion:
    goal: str | None
    treatment: tuple[int, int]  # (converted, enrolled)
    holdout: tuple[int, int]
    treatment_ci: Interval | None
    holdout_ci: Interval | None
    lift_ci: Interval | None  # of treatment rate − holdout rate


def conversion(session: Session, ref: int | str, *, now: datetime | None = None) -> Conversion:
    """Return goal conversion per arm (the goal of the current version, within its window of each entry)."""
    journey = resolve(session, ref)
    spec = definition_of(session, journey.id, journey.current_version)
    rows = repo.enrolment_rows(session, journey.id)
    totals = {"treatment": [0, 0], "holdout": [0, 0]}
    if spec.goal is None or spec.goal_window is None:
        for _id, arm, _c, _at in rows:
            totals[arm][1] += 1
        return Conversion(None, tuple(totals["treatment"]), tuple(totals["holdout"]), None, None, None)  # type: ignore[arg-type]
    since = min((at for *_x, at in rows), default=now or utcnow())
    events: dict[int, list[datetime]] = defaultdict(list)
    for cid, type_, props, at in repo.events_of(session, sorted({c for _i, _a, c, _t in rows}), [spec.goal.type],
                                                since, None):
        if spec.goal.matches(type_, props):
            events[cid].append(at)
    for _id, arm, cid, entered in rows:
        totals[arm][1] += 1
        if any(entered <= at <= entered + spec.goal_window for at in events.get(cid, ())):
            totals[arm][0] += 1
    (s1, n1), (s2, n2) = totals["treatment"], totals["holdout"]
    return Conversion(spec.goal.type, (s1, n1), (s2, n2), wilson(s1, n1), wilson(s2, n2), newcombe(s1, n1, s2, n2))


def _why(step: d.Step | None, run: StepRun) -> str:
    detail = run.detail or {}
    if run.outcome == "failed":
        return f"failed after {detail.get('attempts')} attempts: {detail.get('error')}"
    if run.outcome == "exited":
        return f"left the journey: {detail.get('reason', 'exit')}"
    kind = step.type if step else "?"
    if kind == "branch":
        return f"the rule {'matched' if detail.get('matched') else 'did not match'}: took {run.next_step}"
    if kind == "split":
        return f"random bucket {detail.get('bucket')} fell in branch {detail.get('branch')}: took {run.next_step}"
    if kind == "wait_for_event":
        return "timed out" if detail.get("timed_out") else f"{detail.get('event')} happened at {detail.get('event_at')}"
    if kind in ("wait", "wait_until_time"):
        return f"waited until {detail.get('waited_until') or detail.get('until')}"
    return f"{kind} done"


def trace(session: Session, customer_id: int, *, journey: int | str | None = None) -> list[dict[str, Any]]:
    """Return a customer's enrolments with every step visited: when, what it decided, and why."""
    journey_id = resolve(session, journey).id if journey is not None else None
    enrolments = repo.customer_enrolments(session, customer_id, journey_id)
    runs: dict[int, list[StepRun]] = defaultdict(list)
    for run in repo.runs_of(session, [e.id for e in enrolments]):
        runs[run.enrolment_id].append(run)
    return [_trace_one(session, e, runs[e.id]) for e in enrolments]


def _trace_one(session: Session, e: Enrolment, runs: list[StepRun]) -> dict[str, Any]:
    spec = definition_of(session, e.journey_id, e.version)
    return {"enrolment_id": e.id, "journey_id": e.journey_id, "version": e.version, "status": e.status, "arm": e.arm,
            "source": e.source, "entered_at": e.entered_at, "finished_at": e.finished_at, "step": e.step,
            "next_run_at": e.next_run_at, "reason": e.reason,
            "steps": [{"visit": r.visit, "step": r.step, "type": spec.steps[r.step].type if r.step in spec.steps
                       else None, "at": r.at, "outcome": r.outcome, "next": r.next_step, "detail": r.detail,
                       "why": _why(spec.steps.get(r.step), r)} for r in runs]}

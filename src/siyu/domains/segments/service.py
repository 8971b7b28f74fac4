"""Segments: define, check, preview, store members with history, list them; rule tags' definitions.

Where rules run (the design choice): on the operational store, as SQL compiled from the parsed rule
(:mod:`siyu.domains.segments.rule_repository`), for previews, full refreshes and incremental ones
alike. Most of what the language reads is mutable state that only the operational store holds and
the analytical mirror does not copy (profiles, custom attributes, tag holds, follow relations, group
stays, identity kinds, scores, event properties, order lines, other segments' members); an
incremental refresh must see the facts of the transaction that stored them; and a preview must
answer at once, without first syncing a mirror (3.6-4 s at a million customers). Each condition is a
set computed once (``IN (sub-query)``), so a full evaluation is a handful of index range scans and
hash look-ups; the incremental form pushes the changed customers into every set. The same compiled
definition therefore serves all three uses on SQLite and PostgreSQL; see docs/segments.md and
docs/architecture.md for the measurements behind the choice.

A segment is evaluated when it is created or its rule changes (with the segments and rule tags that
read it), then kept current by :mod:`siyu.domains.segments.refresh`. Staff users see only the
customers they follow: counts, samples and member lists are scoped in SQL.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.domains.access import Principal, audit
from siyu.domains.customers import Customer
from siyu.domains.segments import repository as repo
from siyu.domains.segments import rules
from siyu.domains.segments.models import Segment, SegmentMembership
from siyu.domains.segments.refresh import check_acyclic, refresh_full, segment_key, tag_key
from siyu.domains.segments.rule_repository import Clock, Compiler
from siyu.domains.staff import staff_ids_by_userid
from siyu.domains.tags import Tag
from siyu.domains.tags import service as tag_service
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import clamp_limit
from siyu.kit.time import utcnow

SAMPLE = 20


@dataclass(frozen=True)
class Preview:
    """What a rule selects now: how many customers, the newest few, and how long it took."""

    count: int
    sample: list[Customer]
    ms: float


@dataclass(frozen=True)
class MemberPage:
    """Current members (customer and when they entered), newest customer first."""

    items: list[tuple[Customer, datetime]]
    next_cursor: int | None


def check_rule(session: Session, raw: Any, *, key: str | None = None) -> rules.Node:
    """Parse a rule and check what it names exists (segments, tags, staff) and that it makes no cycle."""
    node = rules.parse(raw)
    problems: list[dict[str, str]] = []
    missing_segments = rules.segment_refs(node) - repo.existing_ids(session, rules.segment_refs(node))
    for sid in sorted(missing_segments):
        problems.append({"path": rules.locate(raw, "segment", sid) or "$", "code": "unknown_segment",
                         "message": f"segment {sid} does not exist"})
    known_tags = {t.name for t in tag_service.list_tags(session)}
    for name in sorted(rules.tag_refs(node) - known_tags):
        problems.append({"path": rules.locate(raw, "tag", name) or "$", "code": "unknown_tag",
                         "message": f"tag {name!r} does not exist"})
    known_staff = staff_ids_by_userid(session, sorted(rules.staff_refs(node)))
    for userid in sorted(rules.staff_refs(node) - set(known_staff)):
        problems.append({"path": rules.locate(raw, "owner", userid) or "$", "code": "unknown_staff",
                         "message": f"staff member {userid!r} does not exist"})
    if problems:
        first = problems[0]
        raise rules.InvalidRule(f"{first['path']}: {first['message']}", errors=problems)
    if key is not None:
        check_acyclic(session, key, node)
    return node


def _clean_name(name: str) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > 80:
        raise ValidationFailed("a segment name must be 1-80 characters", code="invalid_name", field="name")
    return cleaned


def create_segment(session: Session, *, name: str, rule: Any, description: str = "", actor: str,
                   tz: ZoneInfo) -> Segment:
    """Create a segment and evaluate it (members enter now)."""
    name = _clean_name(name)
    if repo.by_name(session, name) is not None:
        raise Conflict(f"segment {name!r} already exists", code="segment_exists", field="name")
    check_rule(session, rule)  # a new segment cannot be read by any rule yet: no cycle is possible
    now = utcnow()
    segment = Segment(name=name, description=description or "", rule=rule, created_by=actor, created_at=now,
                      updated_at=now, members=0)
    repo.add(session, segment)
    audit(session, actor, "segment.create", "segment", segment.id, {"name": name, "rule": rule})
    refresh_full(session, tz, keys={segment_key(segment.id)}, now=now)
    session.refresh(segment)
    return segment


def update_segment(session: Session, segment_id: int, *, actor: str, tz: ZoneInfo, name: str | None = None,
                   rule: Any = None, description: str | None = None) -> Segment:
    """Change a segment's name, description or rule; a new rule is evaluated at once (with what reads it)."""
    segment = get_segment(session, segment_id)
    changes: dict[str, Any] = {}
    if name is not None and _clean_name(name) != segment.name:
        if repo.by_name(session, _clean_name(name)) is not None:
            raise Conflict(f"segment {name!r} already exists", code="segment_exists", field="name")
        changes["name"] = _clean_name(name)
    if description is not None:
        changes["description"] = description
    if rule is not None:
        check_rule(session, rule, key=segment_key(segment.id))
        changes["rule"] = rule
    if not changes:
        return segment
    for column, value in changes.items():
        setattr(segment, column, value)
    segment.updated_at = utcnow()
    session.flush()
    audit(session, actor, "segment.update", "segment", segment.id, changes)
    if rule is not None:
        refresh_full(session, tz, keys={segment_key(segment.id)}, now=segment.updated_at)
        session.refresh(segment)
    return segment


def get_segment(session: Session, ref: int | str) -> Segment:
    """Return a segment by id (or by name, for the CLI), or raise ``segment_not_found``."""
    found = repo.get(session, ref) if isinstance(ref, int) else (
        repo.get(session, int(ref)) if str(ref).isdigit() else repo.by_name(session, str(ref)))
    if found is None:
        raise NotFound(f"segment {ref!r} does not exist", code="segment_not_found")
    return found


def list_segments(session: Session) -> list[Segment]:
    """Return every segment by id, with its stored size and freshness."""
    return repo.all_segments(session)


def preview(session: Session, raw: Any, principal: Principal, tz: ZoneInfo, *, sample: int = SAMPLE,
            now: datetime | None = None) -> Preview:
    """Return how many customers a rule selects now and the newest few, as the caller may see them."""
    started = time.perf_counter()
    node = check_rule(session, raw)
    query = Compiler(Clock(now or utcnow(), tz), session.get_bind().dialect.name == "postgresql").members(node)
    ids = repo.matching(session, query, principal.scoped_staff_id)
    newest = heapq.nlargest(sample, ids)
    rows = repo.customers_newest_first(session, newest) if newest else []
    return Preview(len(ids), rows, round((time.perf_counter() - started) * 1000, 1))


def members(session: Session, segment_id: int, principal: Principal, *, cursor: int | None = None,
            limit: int | None = None) -> MemberPage:
    """Return a page of a segment's current members the caller may see."""
    get_segment(session, segment_id)
    size = clamp_limit(limit)
    rows = repo.member_page(session, segment_id, principal.scoped_staff_id, cursor, size + 1)
    return MemberPage(rows[:size], rows[size - 1][0].id if len(rows) > size else None)


def history(session: Session, segment_id: int, principal: Principal, *, customer_id: int | None = None,
            cursor: int | None = None, limit: int | None = None) -> list[SegmentMembership]:
    """Return stays in a segment (entered, exited), newest first, of the customers the caller may see."""
    get_segment(session, segment_id)
    return repo.stays(session, segment_id, principal.scoped_staff_id, customer_id, cursor, clamp_limit(limit))


def refresh_segment(session: Session, segment_id: int, tz: ZoneInfo) -> tuple[int, int]:
    """Evaluate one segment (and what reads it) over all customers now; return its (entered, exited)."""
    get_segment(session, segment_id)
    key = segment_key(segment_id)
    outcome = refresh_full(session, tz, keys={key})
    return outcome.entered.get(key, 0), outcome.exited.get(key, 0)


def member_ids(session: Session, segment_id: int, principal: Principal) -> list[int]:
    """Return every current member the caller may see (for applying a tag to a whole segment)."""
    rows: list[int] = []
    cursor = None
    while True:
        page = repo.member_page(session, segment_id, principal.scoped_staff_id, cursor, 5000)
        rows.extend(c.id for c, _at in page)
        if len(page) < 5000:
            return rows
        cursor = page[-1][0].id


def matching_customers(session: Session, raw: Any, tz: ZoneInfo, *, among: list[int] | None = None,
                       now: datetime | None = None) -> set[int]:
    """Return the live customers (among ``among``) a rule selects now (journeys' branches and date triggers)."""
    node = rules.parse(raw)
    postgres = session.get_bind().dialect.name == "postgresql"
    return repo.evaluate(session, Compiler(Clock(now or utcnow(), tz), postgres, among).members(node))


def stays_after(session: Session, after_id: int, *, limit: int = 5000) -> list[SegmentMembership]:
    """Return stays (entries into any segment) with an id above ``after_id``, in id order (journey triggers)."""
    return repo.stays_after(session, after_id, limit)


def top_stay_id(session: Session) -> int:
    """Return the highest stay id (where a new journey feeder starts)."""
    return repo.top_stay_id(session)


# -- rule tags and tags applied to segments -----------------------------------------------------------


def create_rule_tag(session: Session, *, name: str, rule: Any, group: str, actor: str, tz: ZoneInfo) -> Tag:
    """Create a rule tag (held while the rule holds) and evaluate it now."""
    node = check_rule(session, rule)
    if tag_key(tag_service.clean_name(name)) in {tag_key(n) for n in rules.tag_refs(node)}:
        raise ValidationFailed("a rule tag cannot read itself", code="rule_cycle", field="rule")
    tag = tag_service.create_tag(session, name, group_name=group, kind="rule", actor=actor)
    tag_service.store_rule(session, tag, rule, actor=actor)
    refresh_full(session, tz, keys={tag_key(tag.name)})
    return tag


def update_rule_tag(session: Session, name: str, rule: Any, *, actor: str, tz: ZoneInfo) -> Tag:
    """Replace a rule tag's rule and re-evaluate it (and what reads it)."""
    tag = tag_service.get_tag(session, name)
    if tag.kind != "rule":
        raise ValidationFailed(f"tag {tag.name!r} is not a rule tag", code="not_rule_tag", field="tag")
    check_rule(session, rule, key=tag_key(tag.name))
    tag_service.replace_rule(session, tag.id, rule)
    audit(session, actor, "tag.rule_update", "tag", tag.id, {"rule": rule})
    refresh_full(session, tz, keys={tag_key(tag.name)})
    return tag


def tag_segment(session: Session, segment_id: int, tag_name: str, principal: Principal) -> int:
    """Put a manual tag on every current member of a segment (audited); return how many were new."""
    segment = get_segment(session, segment_id)
    ids = member_ids(session, segment.id, principal)
    return tag_service.apply_to_customers(session, tag_name, ids, actor=principal.actor, source=f"segment:{segment.id}")

"""Customer groups (社群): who joined which group when, and who left.

Membership is history, not a flag: each stay is a row with ``joined_at`` and ``left_at``, so churn
from groups ("stop the leak") and time in group can be measured. A stay anchors on the person's
WeCom ``external_userid`` identity when the event carries one (as contact relations do), else on
the event's anchor identity.

``apply_group_events`` is called by ingestion inside its transaction. It handles a whole batch in a
fixed number of queries: events are replayed in time order against the open stays loaded up
front, so join-leave-join inside one batch, out-of-order leaves and replays all come out right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.orm import Session

from siyu.domains.events import AcceptedEvent
from siyu.domains.groups import repository as repo
from siyu.domains.groups.models import CustomerGroup, GroupMembership
from siyu.domains.staff import ensure_staff
from siyu.errors import NotFound
from siyu.kit.pagination import Page, clamp_limit
from siyu.kit.time import day_bounds_utc, local_day, utcnow

log = structlog.get_logger("siyu.groups")

GROUP_JOINED = "group_joined"
GROUP_LEFT = "group_left"
EVENT_TYPES = frozenset({GROUP_JOINED, GROUP_LEFT})


@dataclass(frozen=True, slots=True)
class GroupStay:
    """One stay of one identity in one group."""

    stay_id: int
    group_id: int
    chat_id: str
    group_name: str
    identity_id: int
    joined_at: datetime
    left_at: datetime | None

    @property
    def active(self) -> bool:
        """Return whether the person is still in the group."""
        return self.left_at is None


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """A group with the number of people in it now."""

    group: CustomerGroup
    members: int


def _chat_id(event: AcceptedEvent) -> str | None:
    raw = event.properties.get("chat_id")
    chat = raw.strip() if isinstance(raw, str) else ""
    return chat if 0 < len(chat) <= 80 else None


def _anchor(event: AcceptedEvent) -> int:
    return event.identities.get("external_userid", event.identity_id)


def apply_group_events(session: Session, events: Sequence[AcceptedEvent]) -> None:
    """Record group_joined / group_left events: create groups on first sight, open and close stays."""
    relevant = sorted((e for e in events if e.type in EVENT_TYPES), key=lambda e: (e.occurred_at, e.id))
    usable = [e for e in relevant if _chat_id(e)]
    if len(usable) < len(relevant):
        log.warning("group events without a usable chat_id skipped", count=len(relevant) - len(usable))
    if not usable:
        return
    group_ids = _ensure_groups(session, usable)
    state: dict[tuple[int, int], dict[str, Any]] = {
        (r.group_id, r.identity_id): {"id": r.id, "joined_at": r.joined_at}
        for r in repo.open_stays(session, group_ids.values(), {_anchor(e) for e in usable})}
    new: list[dict[str, Any]] = []
    closes: list[dict[str, Any]] = []
    for event in usable:
        key = (group_ids[_chat_id(event) or ""], _anchor(event))
        if event.type == GROUP_JOINED:
            if key not in state:  # an open stay already: a replay or a missed leave
                row = {"group_id": key[0], "identity_id": key[1], "joined_at": event.occurred_at,
                       "left_at": None, "join_event_id": event.event_id}
                new.append(row)
                state[key] = row
            continue
        row = state.get(key)
        if row is None or row["joined_at"] > event.occurred_at:
            continue  # leave without a stay we know of, or older than the stay
        del state[key]
        if "id" in row:
            closes.append({"id": row["id"], "left_at": event.occurred_at})
        else:
            row["left_at"] = event.occurred_at
    repo.insert_stays(session, new)
    repo.close_stays(session, closes)


def _ensure_groups(session: Session, events: Sequence[AcceptedEvent]) -> dict[str, int]:
    first: dict[str, AcceptedEvent] = {}
    names: dict[str, str] = {}
    owners: dict[str, str] = {}
    for event in events:
        chat = _chat_id(event) or ""
        first.setdefault(chat, event)
        name, owner = event.properties.get("group_name"), event.properties.get("staff_userid")
        if isinstance(name, str) and name.strip():
            names[chat] = name.strip()[:120]
        if isinstance(owner, str) and owner.strip():
            owners[chat] = owner.strip()
    staff_ids = ensure_staff(session, owners.values()) if owners else {}
    groups = repo.by_chat_ids(session, first)
    missing = [chat for chat in first if chat not in groups]
    if missing:
        repo.insert_missing(session, [{"chat_id": c, "name": names.get(c, c), "created_at": first[c].occurred_at,
                                       "owner_staff_id": staff_ids.get(owners.get(c, "")), "dissolved_at": None}
                                      for c in missing])
        groups.update(repo.by_chat_ids(session, missing))
    for chat, group in groups.items():
        if chat in names and group.name == group.chat_id:  # a placeholder name learns the real one
            group.name = names[chat]
        if group.owner_staff_id is None and owners.get(chat) in staff_ids:
            group.owner_staff_id = staff_ids[owners[chat]]
    session.flush()
    return {chat: group.id for chat, group in groups.items()}


def groups_of(session: Session, identity_ids: Iterable[int]) -> list[GroupStay]:
    """Return every stay (current and past) of ``identity_ids`` in groups, newest first."""
    return [GroupStay(stay_id=r.id, group_id=r.group_id, chat_id=r.chat_id, group_name=r.name,
                      identity_id=r.identity_id, joined_at=r.joined_at, left_at=r.left_at)
            for r in repo.stays_of(session, identity_ids)]


def groups_by_ids(session: Session, group_ids: Iterable[int]) -> dict[int, CustomerGroup]:
    """Return {id: group} for the known ``group_ids``."""
    return repo.by_ids(session, group_ids)


def get_group(session: Session, group_id: int) -> GroupSummary:
    """Return one group with its current member count, or raise NotFound."""
    group = repo.get(session, group_id)
    if group is None:
        raise NotFound(f"group {group_id} does not exist", code="group_not_found")
    return GroupSummary(group=group, members=repo.member_counts(session, [group_id]).get(group_id, 0))


def list_groups(session: Session, *, after_id: int | None = None, limit: int | None = None) -> Page[GroupSummary]:
    """Return one page of groups with their current member counts."""
    size = clamp_limit(limit)
    rows = repo.list_groups(session, after_id=after_id, limit=size + 1)
    page = rows[:size]
    counts = repo.member_counts(session, [g.id for g in page])
    return Page(items=[GroupSummary(group=g, members=counts.get(g.id, 0)) for g in page],
                next_cursor=page[-1].id if len(rows) > size else None)


def group_members(session: Session, group_id: int, *, include_left: bool = False, after_id: int | None = None,
                  limit: int | None = None) -> Page[GroupMembership]:
    """Return one page of a group's stays (current members only unless ``include_left``)."""
    get_group(session, group_id)
    size = clamp_limit(limit)
    rows = repo.members(session, group_id, include_left=include_left, after_id=after_id, limit=size + 1)
    return Page(items=rows[:size], next_cursor=rows[size - 1].id if len(rows) > size else None)


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A stay in a group with the customer behind it (the identity value masked)."""

    stay_id: int
    customer_id: int
    kind: str
    masked: str
    joined_at: datetime
    left_at: datetime | None


def member_rows(session: Session, group_id: int, *, include_left: bool = False, after_id: int | None = None,
                limit: int | None = None) -> Page[MemberRow]:
    """Return one page of a group's stays with the customer each belongs to."""
    get_group(session, group_id)
    size = clamp_limit(limit)
    rows = repo.member_rows(session, group_id, include_left=include_left, after_id=after_id, limit=size + 1)
    items = [MemberRow(stay_id=r.id, customer_id=r.customer_id, kind=r.kind, masked=r.masked, joined_at=r.joined_at,
                       left_at=r.left_at) for r in rows[:size]]
    return Page(items=items, next_cursor=items[-1].stay_id if len(rows) > size else None)


@dataclass(frozen=True, slots=True)
class DayFlow:
    """People who joined and left a group on one day of the brand's calendar."""

    day: date
    joined: int
    left: int


def group_flow(session: Session, group_id: int, days: int, *, tz: ZoneInfo) -> list[DayFlow]:
    """Return the last ``days`` days (ending today, zeros included) of joins and leaves of a group."""
    get_group(session, group_id)
    last = local_day(utcnow(), tz)
    first = last - timedelta(days=days - 1)
    start, end = day_bounds_utc(first, tz)[0], day_bounds_utc(last, tz)[1]
    joined: dict[date, int] = {}
    left: dict[date, int] = {}
    for joined_at, left_at in repo.moves_between(session, group_id, start, end):
        for at, bucket in ((joined_at, joined), (left_at, left)):
            if at is not None and start <= at < end:
                day = local_day(at, tz)
                bucket[day] = bucket.get(day, 0) + 1
    return [DayFlow(d, joined.get(d, 0), left.get(d, 0)) for d in (first + timedelta(days=i) for i in range(days))]

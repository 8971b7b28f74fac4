"""Channel codes (渠道活码): settings, who the next scan reaches, statistics, contact events.

A code is reached through its opaque ``state`` (WeCom echoes it on the add event). Pools and backups
are given by WeCom userid and stored by staff id; departed staff stay in a pool's history but are
never assigned. ``apply_contact_events`` (in :mod:`.contacts`, re-exported here) is what ingestion
calls; ``known_states`` lets ingestion refuse events that name a state no code has.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.config import Settings, get_settings
from siyu.domains.access import audit
from siyu.domains.channel_codes import repository as repo
from siyu.domains.channel_codes import validation as check
from siyu.domains.channel_codes.assignment import pick
from siyu.domains.channel_codes.contacts import (  # REMOVED_BY, render_welcome: for the demo bulk loader
    EVENT_TYPES, REMOVED_BY, apply_contact_events, render_welcome)
from siyu.domains.channel_codes.landing import Scan, landing_link, record_scan, scans_by_day
from siyu.domains.channel_codes.models import ChannelCode, ChannelCodeStaff
from siyu.domains.channel_codes.plans import load_plans
from siyu.domains.channel_codes.validation import PoolEntry
from siyu.domains.staff import active_counts, active_through_codes, added_through_code, staff_by_ids, staff_by_userids
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.kit.ids import new_state
from siyu.kit.pagination import Page, clamp_limit
from siyu.kit.time import day_bounds_utc, ensure_utc, local_day, utcnow

__all__ = ["EVENT_TYPES", "Assignment", "CodeStats", "CodeView", "DayStat", "PoolEntry", "PoolMember", "Scan",
           "StaffRef", "apply_contact_events", "code_by_state", "code_stats", "create_code", "deactivate_code",
           "get_code", "known_states", "landing_link", "list_codes", "next_assignee", "period_totals",
           "record_scan", "scans_by_day", "update_code"]

_rng = random.Random()
EDITABLE = frozenset({"name", "state", "platform", "channel", "strategy", "pool", "working_hours", "backup",
                      "tags", "welcome_template", "landing_url", "active"})


@dataclass(frozen=True, slots=True)
class StaffRef:
    """A staff member as a code shows it."""

    staff_id: int
    userid: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class PoolMember:
    """A pool member with its weight and daily cap."""

    staff: StaffRef
    weight: int
    daily_cap: int | None


@dataclass(frozen=True, slots=True)
class CodeView:
    """A code with its pool and backups resolved to staff members."""

    code: ChannelCode
    pool: list[PoolMember]
    backups: list[StaffRef]


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who takes the next scan of a code, and whether from the pool or the backups."""

    code_id: int
    staff_id: int
    userid: str
    name: str
    via: str


@dataclass(frozen=True, slots=True)
class DayStat:
    """Contacts added and lost through a code on one day of the brand's calendar."""

    day: date
    added: int
    lost: int

    @property
    def net(self) -> int:
        """Return added minus lost."""
        return self.added - self.lost


@dataclass(frozen=True, slots=True)
class CodeStats:
    """A code's daily series (every day present, zeros included), totals and current followers."""

    code_id: int
    days: list[DayStat]
    added: int
    lost: int
    active: int


def _resolve(session: Session, userids: Sequence[str]) -> dict[str, int]:
    found = staff_by_userids(session, userids)
    unknown = sorted(set(userids) - found.keys())
    if unknown:
        raise ValidationFailed(f"unknown staff userid(s): {', '.join(unknown)}", code="unknown_staff", userids=unknown)
    departed = sorted(u for u in userids if found[u].status != "active")
    if departed:
        raise ValidationFailed(f"staff member(s) {', '.join(departed)} have departed", code="staff_departed",
                               userids=departed)
    return {u: s.id for u, s in found.items()}


def _unique_state(session: Session, state: str | None, code_id: int | None = None) -> str:
    if state is None:
        for _ in range(5):
            candidate = new_state()
            if repo.by_state(session, candidate) is None:
                return candidate
        raise Conflict("could not generate a free state; try again", code="duplicate_state")
    state = check.check_state(state)
    other = repo.by_state(session, state)
    if other is not None and other.id != code_id:
        raise Conflict(f"state {state!r} is already used by channel code {other.id}", code="duplicate_state",
                       code_id=other.id)
    return state


def _backup_ids(session: Session, userids: Sequence[str]) -> list[int]:
    ordered = list(dict.fromkeys(u.strip() for u in userids if isinstance(u, str) and u.strip()))
    ids = _resolve(session, ordered) if ordered else {}
    return [ids[u] for u in ordered]


def _set_pool(session: Session, code: ChannelCode, pool: Sequence[PoolEntry]) -> None:
    check.check_pool(list(pool))
    ids = _resolve(session, [p.userid for p in pool])
    repo.replace_pool(session, code.id, [{"staff_id": ids[p.userid], "weight": p.weight, "daily_cap": p.daily_cap,
                                          "position": i} for i, p in enumerate(pool)])
    code.rr_cursor = 0


def create_code(session: Session, *, name: str, platform: str, strategy: str, pool: Sequence[PoolEntry],
                state: str | None = None, channel: str | None = None, working_hours: dict[str, Any] | None = None,
                backup: Sequence[str] = (), tags: Sequence[str] = (), welcome_template: str | None = None,
                landing_url: str | None = None, actor: str = "system") -> CodeView:
    """Create a channel code; ``state`` is generated when not given."""
    now = utcnow()
    check.check_pool(list(pool))
    code = ChannelCode(name=check.check_name(name), platform=check.check_platform(platform),
                       channel=check.check_channel(channel), strategy=check.check_strategy(strategy),
                       working_hours=check.check_working_hours(working_hours),
                       backup_staff_ids=_backup_ids(session, backup),
                       tags=check.check_tags(list(tags)), welcome_template=check.check_template(welcome_template),
                       landing_url=check.check_landing_url(landing_url), active=True, rr_cursor=0,
                       created_at=now, updated_at=now)
    code.state = _unique_state(session, state)
    try:
        repo.add(session, code)
    except IntegrityError as exc:  # a concurrent create took the state between check and insert
        raise Conflict(f"state {code.state!r} is already used", code="duplicate_state") from exc
    _set_pool(session, code, pool)
    session.flush()
    audit(session, actor, "channel_code.create", "channel_code", code.id,
          {"name": code.name, "state": code.state, "strategy": code.strategy, "pool": [p.userid for p in pool]})
    return get_code(session, code.id)


def update_code(session: Session, code_id: int, changes: Mapping[str, Any], *, actor: str = "system") -> CodeView:
    """Change the given fields of a code (``pool``: PoolEntry list, ``backup``: userids); others stay."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise ValidationFailed(f"cannot change {', '.join(unknown)}", code="invalid_field")
    code = _get(session, code_id)
    setters = {
        "name": lambda v: setattr(code, "name", check.check_name(v)),
        "state": lambda v: setattr(code, "state", _unique_state(session, v, code.id)),
        "platform": lambda v: setattr(code, "platform", check.check_platform(v)),
        "channel": lambda v: setattr(code, "channel", check.check_channel(v)),
        "strategy": lambda v: setattr(code, "strategy", check.check_strategy(v)),
        "working_hours": lambda v: setattr(code, "working_hours", check.check_working_hours(v)),
        "backup": lambda v: setattr(code, "backup_staff_ids", _backup_ids(session, v or ())),
        "tags": lambda v: setattr(code, "tags", check.check_tags(v)),
        "welcome_template": lambda v: setattr(code, "welcome_template", check.check_template(v)),
        "landing_url": lambda v: setattr(code, "landing_url", check.check_landing_url(v)),
        "active": lambda v: setattr(code, "active", bool(v)),
        "pool": lambda v: _set_pool(session, code, v),
    }
    for field, value in changes.items():
        if value is None and field in ("name", "state", "platform", "strategy", "pool", "active"):
            raise ValidationFailed(f"{field} cannot be empty", code=f"invalid_{field}")
        setters[field](value)
    code.updated_at = utcnow()
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"state {code.state!r} is already used", code="duplicate_state") from exc
    detail = {k: (v if k not in ("pool",) else [p.userid for p in v]) for k, v in changes.items()}
    audit(session, actor, "channel_code.update", "channel_code", code.id, detail)
    return get_code(session, code.id)


def deactivate_code(session: Session, code_id: int, *, actor: str = "system") -> CodeView:
    """Stop assigning through a code; its history, statistics and attributions stay."""
    return update_code(session, code_id, {"active": False}, actor=actor)


def _get(session: Session, code_id: int, *, for_update: bool = False) -> ChannelCode:
    code = repo.get(session, code_id, for_update=for_update)
    if code is None:
        raise NotFound(f"channel code {code_id} does not exist", code="channel_code_not_found")
    return code


def _views(session: Session, codes: Sequence[ChannelCode]) -> list[CodeView]:
    pools = repo.pools(session, [c.id for c in codes])
    ids = {m.staff_id for ms in pools.values() for m in ms} | {s for c in codes for s in c.backup_staff_ids or []}
    refs = {sid: StaffRef(s.id, s.userid, s.name, s.status) for sid, s in staff_by_ids(session, ids).items()}
    return [CodeView(code=c, pool=[_member(refs, m) for m in pools.get(c.id, [])],
                     backups=[refs[sid] for sid in c.backup_staff_ids or [] if sid in refs]) for c in codes]


def _member(refs: dict[int, StaffRef], member: ChannelCodeStaff) -> PoolMember:
    return PoolMember(staff=refs[member.staff_id], weight=member.weight, daily_cap=member.daily_cap)


def get_code(session: Session, code_id: int) -> CodeView:
    """Return one code with its pool and backups, or raise NotFound."""
    return _views(session, [_get(session, code_id)])[0]


def code_by_state(session: Session, state: str) -> CodeView:
    """Return the code whose WeCom state is ``state``, or raise NotFound."""
    code = repo.by_state(session, state)
    if code is None:
        raise NotFound(f"no channel code has state {state!r}", code="unknown_state")
    return _views(session, [code])[0]


def list_codes(session: Session, *, active: bool | None = None, platform: str | None = None,
               after_id: int | None = None, limit: int | None = None) -> Page[CodeView]:
    """Return one page of codes in id order, with pools and backups."""
    size = clamp_limit(limit)
    rows = repo.list_codes(session, active=active, platform=platform, after_id=after_id, limit=size + 1)
    return Page(items=_views(session, rows[:size]), next_cursor=rows[size - 1].id if len(rows) > size else None)


def code_names(session: Session, code_ids: Iterable[int]) -> dict[int, str]:
    """Return {id: name} of these channel codes (unknown ids are left out)."""
    return repo.names(session, {c for c in code_ids if c is not None})


def known_states(session: Session, states: set[str]) -> set[str]:
    """Return which of ``states`` belong to a channel code (ingestion refuses the others)."""
    return repo.known_states(session, {s for s in states if isinstance(s, str) and s})


def next_assignee(session: Session, settings: Settings, code_id: int, now: datetime | None = None, *,
                  rng: random.Random | None = None) -> Assignment:
    """Return who takes the code's next scan at ``now``; a round-robin cursor advances and is stored."""
    code = _get(session, code_id, for_update=True)  # serialises round-robin between workers on PostgreSQL
    if not code.active:
        raise Conflict(f"channel code {code.id} is inactive", code="code_inactive")
    when = ensure_utc(now) if now else utcnow()
    plan = load_plans(session, [code])[code.id]
    start, end = day_bounds_utc(local_day(when, settings.tz), settings.tz)
    added = added_through_code(session, code.id, start, end)
    active = active_counts(session, [c.staff_id for c in plan.pool]) if plan.strategy == "least_loaded" else {}
    chosen = pick(plan, when, settings.tz, added, active, rng or _rng)
    if chosen is None:
        raise Conflict(f"no staff member of channel code {code.id} is available now (outside working hours or "
                       "every member at its daily cap, and no active backup)", code="no_assignee")
    if plan.cursor != code.rr_cursor:
        code.rr_cursor = plan.cursor
        session.flush()
    staff = staff_by_ids(session, [chosen.staff_id])[chosen.staff_id]
    return Assignment(code_id=code.id, staff_id=staff.id, userid=staff.userid, name=staff.name, via=chosen.via)


@dataclass(frozen=True, slots=True)
class PeriodTotals:
    """A code's contacts added and lost over the last days, and its followers now."""

    added: int
    lost: int
    active: int


def period_totals(session: Session, code_ids: Sequence[int], days: int = 30, *, tz: ZoneInfo,
                  today: date | None = None) -> dict[int, PeriodTotals]:
    """Return {code_id: totals} over the last ``days`` days of the brand's calendar, for many codes at once."""
    if not 1 <= days <= 366:
        raise ValidationFailed("days must be between 1 and 366", code="invalid_days")
    last = today or local_day(utcnow(), tz)
    sums = repo.daily_totals(session, code_ids, last - timedelta(days=days - 1), last)
    active = active_through_codes(session, code_ids)
    return {cid: PeriodTotals(*sums.get(cid, (0, 0)), active=active.get(cid, 0)) for cid in code_ids}


def code_stats(session: Session, code_id: int, days: int = 30, *, tz: ZoneInfo | None = None,
               today: date | None = None) -> CodeStats:
    """Return the last ``days`` days (brand calendar, ending today) of a code's added and lost contacts."""
    if not 1 <= days <= 366:
        raise ValidationFailed("days must be between 1 and 366", code="invalid_days")
    code = _get(session, code_id)
    last = today or local_day(utcnow(), tz or get_settings().tz)
    first = last - timedelta(days=days - 1)
    stored = {row.day: row for row in repo.daily(session, code.id, first, last)}
    series = [DayStat(d, stored[d].added if d in stored else 0, stored[d].lost if d in stored else 0)
              for d in (first + timedelta(days=i) for i in range(days))]
    return CodeStats(code_id=code.id, days=series, added=sum(s.added for s in series),
                     lost=sum(s.lost for s in series), active=active_through_codes(session, [code.id])[code.id])


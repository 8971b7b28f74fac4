"""Staff members, who follows whom (归属), transfers and departure inheritance.

Ownerships anchor on an identity (usually the WeCom ``external_userid``), never on a customer, so
merges and splits of customers carry them along. A transfer never rewrites history: it ends the old
relation (``removed_by='transfer'``) and opens a new one that points back at it
(``transferred_from_id``), writes a StaffTransfer row and an audit entry. The new relation carries
no channel code: it did not come through one, so it must not count towards a code's daily caps or
losses (the code is still reachable through ``transferred_from_id``).

Other domains open and close ownerships only through the functions here (channel codes do so for
contact events), in bulk, so ingestion does a fixed number of queries per batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from siyu.domains.access import audit
from siyu.domains.staff import repository as repo
from siyu.domains.staff.models import Staff, StaffTransfer
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import Page, clamp_limit
from siyu.kit.time import ensure_utc, utcnow

_USERID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
STATUSES = ("active", "departed")


@dataclass(frozen=True, slots=True)
class FollowRelation:
    """An active follow relation: staff member ``staff_id`` follows the person behind ``identity_id``."""

    ownership_id: int
    identity_id: int
    staff_id: int
    staff_userid: str
    staff_name: str
    staff_status: str
    channel_code_id: int | None
    source: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class ActiveOwnership:
    """The fields of an active ownership that contact-event handling needs."""

    id: int
    identity_id: int
    staff_id: int
    channel_code_id: int | None
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Departure:
    """A staff member marked departed and, if asked, the transfer of their customers."""

    staff: Staff
    transfer: StaffTransfer | None


def _check_userid(userid: str) -> str:
    userid = (userid or "").strip()
    if not _USERID.match(userid):
        raise ValidationFailed("userid must be 1-64 letters, digits or _.@- (the WeCom userid)",
                               code="invalid_userid", userid=userid)
    return userid


def _check_text(field: str, value: str | None, *, required: bool = False) -> str | None:
    value = value.strip() if isinstance(value, str) else value
    if required and not value:
        raise ValidationFailed(f"{field} is required", code=f"invalid_{field}")
    if value and len(value) > 64:
        raise ValidationFailed(f"{field} must be at most 64 characters", code=f"invalid_{field}")
    return value or None


def create_staff(session: Session, userid: str, name: str, *, department: str | None = None,
                 store: str | None = None, actor: str = "system") -> Staff:
    """Create a staff member; a placeholder made by ingestion is filled in instead of duplicated."""
    userid = _check_userid(userid)
    name = _check_text("name", name, required=True) or userid
    existing = repo.by_userid(session, userid)
    if existing is not None and existing.name != existing.userid:
        raise Conflict(f"staff member {userid!r} already exists", code="staff_exists", staff_id=existing.id)
    if existing is not None:  # placeholder created from an event: complete it
        return update_staff(session, existing.id, name=name, department=department, store=store, actor=actor)
    staff = Staff(userid=userid, name=name, department=_check_text("department", department),
                  store=_check_text("store", store), status="active", created_at=utcnow())
    repo.add(session, staff)
    audit(session, actor, "staff.create", "staff", staff.id, {"userid": userid})
    return staff


def update_staff(session: Session, staff_id: int, *, name: str | None = None, department: str | None = None,
                 store: str | None = None, actor: str = "system") -> Staff:
    """Change a staff member's name, department or store (None leaves a field as it is)."""
    staff = get_staff(session, staff_id)
    changes: dict[str, Any] = {}
    for field, value in (("name", name), ("department", department), ("store", store)):
        if value is None:
            continue
        checked = _check_text(field, value, required=field == "name")
        if checked != getattr(staff, field):
            changes[field] = checked
            setattr(staff, field, checked)
    if changes:
        session.flush()
        audit(session, actor, "staff.update", "staff", staff.id, changes)
    return staff


def get_staff(session: Session, staff_id: int) -> Staff:
    """Return a staff member by id, or raise NotFound."""
    staff = repo.get(session, staff_id)
    if staff is None:
        raise NotFound(f"staff member {staff_id} does not exist", code="staff_not_found")
    return staff


def staff_by_userid(session: Session, userid: str) -> Staff:
    """Return a staff member by WeCom userid, or raise NotFound."""
    staff = repo.by_userid(session, (userid or "").strip())
    if staff is None:
        raise NotFound(f"no staff member has userid {userid!r}", code="staff_not_found")
    return staff


def staff_by_ids(session: Session, staff_ids: Iterable[int]) -> dict[int, Staff]:
    """Return {id: staff} for the existing ``staff_ids``."""
    return {s.id: s for s in repo.by_ids(session, staff_ids)}


def staff_by_userids(session: Session, userids: Iterable[str]) -> dict[str, Staff]:
    """Return {userid: staff} for the existing ``userids``."""
    return {s.userid: s for s in repo.by_userids(session, userids)}


def staff_ids_by_userid(session: Session, userids: Iterable[str]) -> dict[str, int]:
    """Return {userid: staff_id} for the known ``userids`` without creating any."""
    return repo.ids_by_userid(session, {u for u in userids if u})


def list_staff(session: Session, *, status: str | None = None, store: str | None = None,
               after_id: int | None = None, limit: int | None = None) -> Page[Staff]:
    """Return one page of staff members in id order."""
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}", code="invalid_status")
    size = clamp_limit(limit)
    rows = repo.list_staff(session, status=status, store=store, after_id=after_id, limit=size + 1)
    return Page(items=rows[:size], next_cursor=rows[size - 1].id if len(rows) > size else None)


def ensure_staff(session: Session, userids: Iterable[str]) -> dict[str, int]:
    """Return {userid: staff_id}, creating placeholder rows (name = userid) for unknown userids.

    Invalid userids (empty, too long, odd characters) are left out of the result rather than
    failing a whole ingestion batch; callers treat a missing key as "no staff".
    """
    wanted = {u.strip() for u in userids if isinstance(u, str) and _USERID.match(u.strip())}
    if not wanted:
        return {}
    found = repo.ids_by_userid(session, wanted)
    missing = sorted(wanted - found.keys())
    if missing:
        now = utcnow()
        repo.insert_missing(session, [{"userid": u, "name": u, "status": "active", "created_at": now}
                                      for u in missing])
        found.update(repo.ids_by_userid(session, missing))
    return found


def owners_of(session: Session, identity_ids: Iterable[int]) -> list[FollowRelation]:
    """Return the active follow relations of ``identity_ids`` (ordered by identity, then age)."""
    return [FollowRelation(ownership_id=r.id, identity_id=r.identity_id, staff_id=r.staff_id,
                           staff_userid=r.userid, staff_name=r.name, staff_status=r.status,
                           channel_code_id=r.channel_code_id, source=r.source, added_at=r.added_at)
            for r in repo.active_follows(session, identity_ids)]


def owned_identity_ids(session: Session, staff_id: int) -> list[int]:
    """Return the identity ids ``staff_id`` actively follows."""
    return repo.owned_identity_ids(session, staff_id)


def owned_identities_query(staff_id: int) -> Select[tuple[int]]:
    """Return a SELECT of the identity ids ``staff_id`` follows, to scope reads with IN (…)."""
    return repo.owned_identities_query(staff_id)


def active_ownerships(session: Session, identity_ids: Iterable[int]) -> list[ActiveOwnership]:
    """Return every active ownership of ``identity_ids`` (one query per 2,000 ids)."""
    return [ActiveOwnership(r.id, r.identity_id, r.staff_id, r.channel_code_id, r.added_at)
            for r in repo.active_by_identity(session, identity_ids)]


def open_ownerships(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ownerships in bulk: dicts of identity_id, staff_id, channel_code_id, source, added_at."""
    repo.insert_ownerships(session, [{"removed_at": None, "removed_by": None, "transferred_from_id": None,
                                      "channel_code_id": None, **row} for row in rows])


def close_ownerships(session: Session, closures: Sequence[tuple[int, datetime, str]]) -> None:
    """End ownerships in bulk: (ownership_id, removed_at, removed_by) tuples."""
    repo.close_ownerships(session, [{"id": oid, "removed_at": at, "removed_by": by} for oid, at, by in closures])


def active_counts(session: Session, staff_ids: Iterable[int]) -> dict[int, int]:
    """Return {staff_id: active ownerships} for every id in ``staff_ids`` (0 when none)."""
    ids = set(staff_ids)
    counts = repo.active_counts(session, ids)
    return {sid: counts.get(sid, 0) for sid in ids}


def added_through_code(session: Session, code_id: int, start: datetime, end: datetime) -> dict[int, int]:
    """Return {staff_id: ownerships opened through ``code_id`` in [start, end)}."""
    return repo.added_through_code(session, code_id, start, end)


def active_through_codes(session: Session, code_ids: Iterable[int]) -> dict[int, int]:
    """Return {channel_code_id: active ownerships opened through it} (0 when none)."""
    ids = set(code_ids)
    counts = repo.active_through_codes(session, ids)
    return {cid: counts.get(cid, 0) for cid in ids}


def transfer_customers(session: Session, from_staff_id: int, to_staff_id: int,
                       identity_ids: Iterable[int] | None, *, actor: str, at: datetime | None = None) -> StaffTransfer:
    """Move the active ownerships of ``from_staff_id`` (all, or those on ``identity_ids``) to ``to_staff_id``.

    The reason is ``departure`` when the source has departed (inheritance), else ``in_service``.
    """
    source, target = _transfer_parties(session, from_staff_id, to_staff_id)
    moving = repo.active_of_staff(session, source.id, None if identity_ids is None else set(identity_ids))
    if not moving and (identity_ids is not None or source.status != "departed"):
        # an in-service transfer of nothing is a mistake to report; an inheritance of nothing still
        # records that the departed member's customers (none) went to the heir
        raise ValidationFailed(f"staff member {source.userid!r} follows none of "
                               f"{'the given identities' if identity_ids is not None else 'any customer now'}",
                               code="nothing_to_transfer")
    when = ensure_utc(at) if at else utcnow()
    already = {o.identity_id for o in repo.active_of_staff(session, target.id, {o.identity_id for o in moving})}
    opened: list[dict[str, Any]] = []
    for old in moving:
        old.removed_at, old.removed_by = when, "transfer"
        if old.identity_id not in already:
            already.add(old.identity_id)
            opened.append({"identity_id": old.identity_id, "staff_id": target.id, "source": "transfer",
                           "added_at": when, "transferred_from_id": old.id})
    session.flush()
    open_ownerships(session, opened)
    reason = "departure" if source.status == "departed" else "in_service"
    transfer = StaffTransfer(from_staff_id=source.id, to_staff_id=target.id, reason=reason,
                             customers=len(moving), actor=actor, created_at=when)
    repo.add(session, transfer)
    audit(session, actor, "staff.transfer", "staff_transfer", transfer.id,
          {"from": source.userid, "to": target.userid, "reason": reason, "ownerships": len(moving),
           "identity_ids": sorted({o.identity_id for o in moving})[:200]})
    return transfer


def _transfer_parties(session: Session, from_staff_id: int, to_staff_id: int) -> tuple[Staff, Staff]:
    if from_staff_id == to_staff_id:
        raise ValidationFailed("cannot transfer customers to the same staff member", code="same_staff")
    source = get_staff(session, from_staff_id)
    target = get_staff(session, to_staff_id)
    if target.status != "active":
        raise ValidationFailed(f"staff member {target.userid!r} has departed and cannot receive customers",
                               code="staff_departed")
    return source, target


def depart_staff(session: Session, staff_id: int, *, inherit_to: int | None = None, actor: str,
                 at: datetime | None = None) -> Departure:
    """Mark a staff member departed and, with ``inherit_to``, move all their customers to that colleague.

    Without ``inherit_to`` the relations stay open (WeCom keeps them until they are inherited);
    call :func:`transfer_customers` later to hand them over.
    """
    staff = get_staff(session, staff_id)
    if staff.status == "departed":
        raise Conflict(f"staff member {staff.userid!r} has already departed", code="already_departed")
    if inherit_to is not None:
        _transfer_parties(session, staff.id, inherit_to)  # validate before changing anything
    when = ensure_utc(at) if at else utcnow()
    staff.status, staff.departed_at = "departed", when
    session.flush()
    audit(session, actor, "staff.depart", "staff", staff.id, {"userid": staff.userid, "inherit_to": inherit_to})
    transfer = transfer_customers(session, staff.id, inherit_to, None, actor=actor, at=when) if inherit_to else None
    return Departure(staff=staff, transfer=transfer)


def recent_transfers(session: Session, *, staff_id: int | None = None, limit: int | None = None) -> list[StaffTransfer]:
    """Return the newest transfers, optionally from or to one staff member."""
    return repo.transfers(session, staff_id, clamp_limit(limit))


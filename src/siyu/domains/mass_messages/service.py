"""Mass messages (群发): audience, content, schedule, a preview of who is left, and an idempotent send.

Sending enqueues **every** reachable recipient and lets the outbox dispatcher apply caps, quiet hours,
consent and opt-outs when each message is due, so suppressions are decided and recorded in one place
(docs/messaging.md). The preview estimates that outcome beforehand from the same facts (opt-outs,
marketing consent, the customer caps of the stored messaging policy at the planned send time).

WeCom rule: a staff member confirms each mass message on their phone. On channel ``wecom`` every
customer is sent by the staff member who follows them (the longest relation; customers nobody follows
are skipped and counted), on ``wecom_group`` every group by its owner, and each of those staff members
gets one confirmation task (跟进任务) due at the send time. Idempotency keys: messages
``mass:<id>:<customer>`` / ``mass:<id>:group:<group>``, tasks ``mass:<id>:confirm:<staff>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from siyu.domains import content
from siyu.domains import staff as staff_domain
from siyu.domains.access import Principal, audit
from siyu.domains.groups import service as groups
from siyu.domains.mass_messages import repository as repo
from siyu.domains.mass_messages.models import MassMessage
from siyu.domains.mass_messages.schemas import MassIn
from siyu.domains.segments import service as segments
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.kit.time import ensure_utc, utcnow

SYSTEM = Principal(actor="system:mass_messages", role="admin")


@dataclass
class Recipients:
    """Who a mass message reaches: customers (with their sending staff member) or groups (with owners)."""

    customers: list[int] = field(default_factory=list)
    sender: dict[int, int] = field(default_factory=dict)  # customer → staff member (wecom only)
    groups: list[tuple[int, int | None]] = field(default_factory=list)  # (group id, owner staff id)
    skipped: int = 0  # wecom customers no staff member follows


def _now(now: datetime | None) -> datetime:
    return ensure_utc(now) if now else utcnow()


def create(session: Session, data: MassIn, *, actor: str, now: datetime | None = None) -> MassMessage:
    """Create a mass message (draft, or scheduled when it has a send time) after checking its references."""
    now = _now(now)
    if data.content_id is not None:
        content.named_variant(content.item_view(session, data.content_id), data.variant)
    elif not content.candidates(session, id_or_name(data.collection)):
        raise ValidationFailed(f"collection {data.collection!r} has no active items", code="empty_collection")
    audience = _check_audience(session, data.audience.model_dump(exclude_none=True))
    if data.send_at is not None and ensure_utc(data.send_at) < now - timedelta(minutes=1):
        raise ValidationFailed("send_at is in the past", code="send_at_past")
    row = repo.add(session, MassMessage(name=data.name, audience=audience, channel=data.channel,
                                        content_id=data.content_id, collection=data.collection,
                                        variant=data.variant,
                                        send_at=ensure_utc(data.send_at) if data.send_at else None,
                                        status="scheduled" if data.send_at else "draft", created_by=actor[:80],
                                        created_at=now, updated_at=now))
    audit(session, actor, "mass_message.create", "mass_message", row.id, {"name": row.name, "channel": row.channel})
    return row


def id_or_name(raw: str | None) -> int | str | None:
    """Return a reference by id (digits) or by name."""
    return int(raw) if raw and raw.isdigit() else raw


def _check_audience(session: Session, audience: dict[str, object]) -> dict[str, object]:
    if "segment" in audience:
        ref = audience["segment"]
        seg = segments.get_segment(session, id_or_name(ref) if isinstance(ref, str) else ref)  # type: ignore[arg-type]
        return {"segment": seg.id}
    if "groups" in audience:
        ids = list(dict.fromkeys(audience["groups"]))  # type: ignore[call-overload]
        for gid in ids:
            groups.get_group(session, gid)
        return {"groups": ids}
    ids = list(dict.fromkeys(audience["staff"]))  # type: ignore[call-overload]
    found = staff_domain.staff_by_ids(session, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"no staff member {missing[0]}", code="staff_not_found")
    return {"staff": ids}


def get(session: Session, mass_id: int) -> MassMessage:
    """Return a mass message or raise NotFound."""
    row = repo.get(session, mass_id)
    if row is None:
        raise NotFound(f"no mass message {mass_id}", code="mass_message_not_found")
    return row


def list_messages(session: Session, *, status: str | None = None, limit: int = 100) -> list[MassMessage]:
    """Return mass messages newest first."""
    return repo.listing(session, status, max(1, min(limit, 500)))


def _editable(row: MassMessage) -> None:
    if row.status not in ("draft", "scheduled"):
        raise Conflict(f"mass message {row.id} is {row.status}", code="mass_message_closed")


def schedule(session: Session, mass_id: int, send_at: datetime, *, actor: str, now: datetime | None = None) -> MassMessage:
    """Set (or move) the send time of a draft or scheduled message."""
    row = get(session, mass_id)
    _editable(row)
    if ensure_utc(send_at) < _now(now) - timedelta(minutes=1):
        raise ValidationFailed("send_at is in the past", code="send_at_past")
    row.send_at, row.status, row.updated_at = ensure_utc(send_at), "scheduled", _now(now)
    session.flush()
    audit(session, actor, "mass_message.schedule", "mass_message", row.id, {"send_at": row.send_at.isoformat()})
    return row


def cancel(session: Session, mass_id: int, *, actor: str, now: datetime | None = None) -> MassMessage:
    """Cancel a message that is not sent yet."""
    row = get(session, mass_id)
    _editable(row)
    row.status, row.updated_at = "cancelled", _now(now)
    session.flush()
    audit(session, actor, "mass_message.cancel", "mass_message", row.id)
    return row


def resolve(session: Session, row: MassMessage, principal: Principal = SYSTEM) -> Recipients:
    """Return the recipients of a mass message now."""
    aud = row.audience
    out = Recipients()
    if "groups" in aud:
        owners = groups.groups_by_ids(session, aud["groups"])
        out.groups = [(gid, owners[gid].owner_staff_id if gid in owners else None) for gid in aud["groups"]]
        return out
    if "segment" in aud:
        out.customers = sorted(set(segments.member_ids(session, int(aud["segment"]), principal)))
        if row.channel == "wecom":
            _assign_owners(session, out, None)
        return out
    staff_ids = list(aud["staff"])
    by_staff = {s: set(repo.customers_of_identities(session, staff_domain.owned_identity_ids(session, s)))
                for s in staff_ids}
    out.customers = sorted(set().union(*by_staff.values()))
    if row.channel == "wecom":
        _assign_owners(session, out, staff_ids)
    return out


def _assign_owners(session: Session, out: Recipients, allowed: Sequence[int] | None) -> None:
    idents = repo.identities_by_customer(session, out.customers)
    owner_of_identity: dict[int, tuple[datetime, int]] = {}
    for o in staff_domain.active_ownerships(session, [i for ids in idents.values() for i in ids]):
        if allowed is not None and o.staff_id not in allowed:
            continue
        best = owner_of_identity.get(o.identity_id)
        if best is None or (o.added_at, o.staff_id) < best:
            owner_of_identity[o.identity_id] = (o.added_at, o.staff_id)
    for c in out.customers:
        found = [owner_of_identity[i] for i in idents.get(c, []) if i in owner_of_identity]
        if found:
            out.sender[c] = min(found)[1]
    reachable = [c for c in out.customers if c in out.sender]
    out.skipped = len(out.customers) - len(reachable)
    out.customers = reachable

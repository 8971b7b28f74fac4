"""Follow-up by people: notes (跟进记录), manual tags and handing a customer to another staff member,
on behalf of a principal, always audited.

Every call checks visibility the way reads do (a staff user acts only on customers they follow;
anyone else's customer is "not found") and refuses analysts, whose access is read-only. A merge
leaves notes and tags on the tombstone (an unmerge takes them back), so both are read across the
customer's tombstones, and removing a tag removes it from the tombstones too.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from siyu.domains.access import Principal, audit
from siyu.domains.customers import repository as repo
from siyu.domains.customers.models import FollowUpNote
from siyu.domains.customers.schemas import NoteOut
from siyu.domains.customers.service import visible_customer
from siyu.domains.identity.service import identities_of
from siyu.domains.staff import staff_ids_by_userid, transfer_customers
from siyu.domains.tags import apply_tags, remove_tag, tags_of
from siyu.domains.tags.service import clean_name
from siyu.errors import Forbidden, NotFound, ValidationFailed
from siyu.kit.pagination import clamp_limit
from siyu.kit.time import utcnow

NOTE_METHODS = ("chat", "call", "visit", "other")
MAX_NOTE = 2000
MANUAL_SOURCE = "manual"


def _writer(principal: Principal) -> None:
    if principal.role == "analyst":
        raise Forbidden("analysts have read-only access", code="read_only")


def _note_view(note: FollowUpNote) -> NoteOut:
    return NoteOut(id=note.id, method=note.method, body=note.body, author=note.author, created_at=note.created_at)


def add_note(session: Session, principal: Principal, customer_id: int, method: str, body: str, *,
             request_id: str | None = None) -> NoteOut:
    """Write a follow-up note on a visible customer and return it."""
    _writer(principal)
    customer = visible_customer(session, principal, customer_id)
    text = (body or "").strip()
    if not text or len(text) > MAX_NOTE:
        raise ValidationFailed(f"a note must be 1-{MAX_NOTE} characters", code="invalid_note", field="body")
    if method not in NOTE_METHODS:
        raise ValidationFailed(f"method must be one of {', '.join(NOTE_METHODS)}", code="invalid_note_method",
                               field="method")
    note = FollowUpNote(customer_id=customer.id, method=method, body=text, author=principal.actor,
                        staff_id=principal.scoped_staff_id, created_at=utcnow())
    repo.add_note(session, note)
    audit(session, principal.actor, "customer.note.add", "customer", customer.id,
          {"note_id": note.id, "method": method}, request_id)
    return _note_view(note)


def list_notes(session: Session, principal: Principal, customer_id: int, *, limit: int | None = None) -> list[NoteOut]:
    """Return a visible customer's follow-up notes, newest first (its tombstones' included)."""
    customer = visible_customer(session, principal, customer_id)
    rows = repo.notes_of(session, [customer.id, *repo.tombstone_ids(session, customer.id)], clamp_limit(limit))
    return [_note_view(n) for n in rows]


def tags_held(session: Session, principal: Principal, customer_id: int) -> list[str]:
    """Return the names of the tags a visible customer holds now (its tombstones' included), sorted."""
    customer = visible_customer(session, principal, customer_id)
    held = tags_of(session, [customer.id, *repo.tombstone_ids(session, customer.id)])
    return sorted({name for names in held.values() for name in names})


def add_tag(session: Session, principal: Principal, customer_id: int, name: str, *,
            request_id: str | None = None) -> bool:
    """Put a manual tag on a visible customer (creating the tag if new); return whether it was newly applied."""
    _writer(principal)
    customer = visible_customer(session, principal, customer_id)
    try:
        tag = clean_name(name)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="tag") from exc
    added = apply_tags(session, customer.id, [tag], MANUAL_SOURCE) > 0
    if added:
        audit(session, principal.actor, "customer.tag.add", "customer", customer.id, {"tag": tag}, request_id)
    return added


def drop_tag(session: Session, principal: Principal, customer_id: int, name: str, *,
             request_id: str | None = None) -> bool:
    """Take a tag off a visible customer and its tombstones; return whether it was held."""
    _writer(principal)
    customer = visible_customer(session, principal, customer_id)
    tag = clean_name(name)
    removed = False
    for holder in [customer.id, *repo.tombstone_ids(session, customer.id)]:
        removed = remove_tag(session, holder, tag) or removed
    if removed:
        audit(session, principal.actor, "customer.tag.remove", "customer", customer.id, {"tag": tag}, request_id)
    return removed


def transfer_owner(session: Session, principal: Principal, customer_id: int, from_userid: str, to_userid: str) -> int:
    """Hand one customer from one staff member to another (in service); return the relations moved.

    Only the customer's own identities move, through the staff domain's audited transfer.
    """
    if principal.role not in ("admin", "operator"):
        raise Forbidden("only admins and operators may transfer customers", code="forbidden_role")
    customer = visible_customer(session, principal, customer_id)
    ids = staff_ids_by_userid(session, [from_userid, to_userid])
    missing = [u for u in (from_userid, to_userid) if u not in ids]
    if missing:
        raise NotFound(f"no staff member {missing[0]!r}", code="staff_not_found", field="to_staff")
    identity_ids = [i.id for i in identities_of(session, customer.id)]
    moved = transfer_customers(session, ids[from_userid], ids[to_userid], identity_ids, actor=principal.actor)
    return moved.customers

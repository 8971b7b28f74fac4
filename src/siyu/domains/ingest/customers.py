"""Customer records from an ERP/CRM import: identities, profile fields and the owning staff member.

A record is not an append-only fact: it says "this person, with these identities, has this
profile". Each record is resolved like any fact (cause type ``import``, cause ref the caller's
``file:line``), so OneID links and merges what it names and explains why; the profile fields it
carries are then written to the resolved customer through the customers service, and
``owner_userid`` opens a follow relation (source ``import``) unless that staff member already
follows one of the record's identities. Importing the same records again therefore changes
nothing: no identity, customer or relation is created twice.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy.orm import Session

from siyu.domains.customers import service as customers
from siyu.domains.identity import service as identity
from siyu.domains.ingest.schemas import CustomerIn, IngestResult
from siyu.domains.ingest.service import IngestContext, Prepared, check_batch_size, normalise_identities
from siyu.domains.ingest.validation import ItemRejected, parse_item, rejection
from siyu.domains.staff import service as staff
from siyu.kit.time import utcnow

PROFILE_FIELDS = ("name", "gender", "birthday", "region", "city", "attributes")


def _birthday(record: CustomerIn) -> date | None:
    if not record.birthday:
        return None
    try:
        value = date.fromisoformat(record.birthday)
    except ValueError as exc:
        raise ItemRejected("invalid_value", "birthday must be a date YYYY-MM-DD", "birthday") from exc
    if not date(1900, 1, 1) <= value <= utcnow().date():
        raise ItemRejected("invalid_value", "birthday must be between 1900-01-01 and today", "birthday")
    return value


def _profile(ctx: IngestContext, record: CustomerIn) -> dict[str, Any]:
    """Return the profile fields the record actually carries (absent fields are left alone), the name sealed."""
    name = customers.seal_name(ctx.ids.vault, record.name) if record.name else record.name
    values = {"name": name, "gender": record.gender, "birthday": _birthday(record), "region": record.region,
              "city": record.city, "attributes": record.attributes or None}
    return {k: v for k, v in values.items() if v not in (None, "")}


class RecordFact(NamedTuple):
    """What the writer needs of a validated record besides its identities and profile."""

    occurred_at: datetime | None
    owner_userid: str | None


Parsed = tuple[int, RecordFact, identity.Normalised, dict[str, Any]]


def _parse(ctx: IngestContext, raw: Any) -> tuple[RecordFact, identity.Normalised, dict[str, Any]]:
    record = parse_item(CustomerIn, raw, ctx.settings.max_properties_bytes)
    if record.attributes:
        size = len(orjson.dumps(record.attributes, option=orjson.OPT_NON_STR_KEYS))
        if size > ctx.settings.max_properties_bytes:
            raise ItemRejected("attributes_too_large", f"attributes are {size} bytes; the limit is "
                               f"{ctx.settings.max_properties_bytes}", "attributes")
    return (RecordFact(record.occurred_at, record.owner_userid), normalise_identities(ctx, record.identities),
            _profile(ctx, record))


Outcome = tuple[RecordFact, identity.Normalised, dict[str, Any]] | ItemRejected


def customer_outcome(ctx: IngestContext, raw: Any) -> Outcome:
    """Return one raw record validated and normalised, or why it is rejected."""
    try:
        return _parse(ctx, raw)
    except ItemRejected as exc:
        return exc


def collect_customers(ctx: IngestContext, outcomes: list[Outcome], refs: list[str]) -> Prepared:
    """Make the prepared batch of per-record outcomes (rejections by index); ``refs`` name each record."""
    check_batch_size(len(outcomes), ctx.settings.max_batch)
    if len(refs) != len(outcomes):
        raise ValueError("customer records need one reference per item")
    result = IngestResult()
    parsed: list[Parsed] = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ItemRejected):
            result.rejected.append(rejection(index, outcome))
        else:
            parsed.append((index, *outcome))
    return Prepared(parsed, result, refs)


def prepare_customers(ctx: IngestContext, raw_items: list[Any], refs: list[str]) -> Prepared:
    """Validate and normalise customer records (CPU only); ``refs`` name each record, e.g. ``file:line``."""
    check_batch_size(len(raw_items), ctx.settings.max_batch)
    return collect_customers(ctx, [customer_outcome(ctx, raw) for raw in raw_items], refs)


def write_customers(session: Session, ctx: IngestContext, prepared: Prepared) -> IngestResult:
    """Resolve prepared records, write their profile fields and owners; return counts and rejections."""
    result, parsed, refs = prepared.result, prepared.items, prepared.refs
    if parsed:
        identity.lock(session)
        now = utcnow()
        facts = [identity.FactIdentities("import", refs[i][:160], rec.occurred_at or now, norm.items)
                 for i, rec, norm, _p in parsed]
        resolved = identity.resolver(session, ctx.ids).resolve(facts)
        _write_profiles(session, ctx, parsed, resolved)
        open_owners(session, [(rec.owner_userid, rec.occurred_at, res)
                              for (_i, rec, _n, _p), res in zip(parsed, resolved, strict=True) if rec.owner_userid], now)
        identity.record_junk(session, [row for i, _r, norm, _p in parsed if norm.junk
                                       for row in identity.junk_issue_rows(norm.junk, "import", refs[i])])
        result.accepted = len(parsed)
    result.rejected.sort(key=lambda r: r.index)
    return result


def ingest_customers(session: Session, ctx: IngestContext, raw_items: list[Any], refs: list[str]) -> IngestResult:
    """Resolve customer records, write their profile fields and owners; return counts and rejections."""
    return write_customers(session, ctx, prepare_customers(ctx, raw_items, refs))


def _write_profiles(session: Session, ctx: IngestContext, parsed: list[Parsed], resolved: list[identity.Resolved]) -> None:
    """Apply each record's profile to its customer; a later record of the same customer wins per field."""
    merged: dict[int, dict[str, Any]] = {}
    for (_i, _rec, _norm, profile), res in zip(parsed, resolved, strict=True):
        if profile:
            merged.setdefault(res.customer_id, {}).update(profile)
    if not merged:
        return
    bulk = getattr(customers, "update_profiles", None)
    if bulk is not None:
        bulk(session, ctx.ids.vault, list(merged.items()))
        return
    for customer_id, fields in merged.items():  # until the customers domain offers the bulk form
        customers.update_profile(session, ctx.ids.vault, customer_id, fields, actor="import")


def open_owners(session: Session, wanted: list[tuple[str, datetime | None, identity.Resolved]], now: datetime) -> None:
    """Open one follow relation per (staff member, record) unless the staff member already follows the person.

    ``wanted``: each record naming an owner, in file order, as (owner_userid, occurred_at, where it landed).
    """
    if not wanted:
        return
    staff_ids = staff.ensure_staff(session, {owner for owner, _t, _res in wanted})
    identity_ids = {iid for _o, _t, res in wanted for iid in res.identity_ids.values()}
    following = {(o.staff_id, o.identity_id) for o in staff.active_ownerships(session, identity_ids)}
    rows = []
    for owner, occurred_at, res in wanted:
        staff_id = staff_ids.get(owner)
        if staff_id is None:
            continue
        held = set(res.identity_ids.values()) | {res.anchor_id}
        if any((staff_id, iid) in following for iid in held):
            continue
        anchor = res.identity_ids.get("external_userid", res.anchor_id)
        following.update((staff_id, iid) for iid in held)
        rows.append({"identity_id": anchor, "staff_id": staff_id, "source": "import", "added_at": occurred_at or now})
    staff.open_ownerships(session, rows)

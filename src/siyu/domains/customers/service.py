"""Customer rules: source attribution, profile updates and the scoped read side.

Source attribution is first-touch and treats (channel code, platform) as one value: it is written
only while the customer has neither, so a later scan of another code never rewrites where the
person came from, and the pair never mixes two different touches.

Reads are made on behalf of a :class:`Principal`. Staff users see only customers they actively
follow: the repository adds that predicate to every customer query, and an invisible customer is
"not found" (404), never "forbidden", so ids cannot be probed. A merged (tombstone) id answers
with its live survivor (200, ``merged_into`` set). Names and identity values are masked unless the
principal may read PII; every unmasked read appends a ``pii.read`` audit entry.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from siyu.domains.access import Principal, audit
from siyu.domains.customers import repository as repo
from siyu.domains.customers.activity import MOVES
from siyu.domains.customers.models import Customer
from siyu.domains.customers.schemas import (
    ActivityFilter,
    ConsentOut,
    CustomerDetail,
    CustomerFilter,
    CustomerPage,
    CustomerSummary,
    GroupOut,
    IdentityOut,
    OrderOut,
    OrderSummaryOut,
    OwnerOut,
    Source,
    TimelineItem,
    TimelinePage,
)
from siyu.domains.events import AcceptedEvent
from siyu.domains.events.service import EventEntry, events_before
from siyu.domains.groups import groups_of
from siyu.domains.identity import Identity, IdentityError
from siyu.domains.identity.service import IdentityContext, identities_of, normalise_one, reveal
from siyu.domains.orders import OrderFactEntry, OrderSummary, order_facts_before, order_summary, recent_orders
from siyu.domains.staff import owners_of
from siyu.domains.tags import tags_of
from siyu.errors import Forbidden, NotFound, ValidationFailed
from siyu.kit.crypto import PiiVault, mask_name
from siyu.kit.money import from_fen
from siyu.kit.pagination import clamp_limit
from siyu.kit.redact import redact
from siyu.kit.time import UTC, parse_timestamp, utcnow

MAX_PLATFORM = 32
MAX_NAME = 64
MAX_PLACE = 32
MAX_ATTRIBUTES_BYTES = 16 * 1024
GENDERS = ("male", "female", "unknown")
PROFILE_FIELDS = frozenset({"name", "gender", "birthday", "region", "city", "attributes"})
_SPACES = re.compile(r"\s+")
_MICRO = timedelta(microseconds=1)


def _live(session: Session, customer_id: int) -> int:
    root = repo.live_root_id(session, customer_id)
    if root is None:
        raise NotFound(f"customer {customer_id} not found", code="customer_not_found")
    return root


def attribute_source(session: Session, customer_id: int, channel_code_id: int | None, platform: str | None) -> bool:
    """Set the customer's first-touch source on its live root if none is recorded; return whether it was set."""
    platform = (platform or "").strip() or None
    if platform is not None and len(platform) > MAX_PLATFORM:
        raise ValidationFailed(f"platform must be at most {MAX_PLATFORM} characters", code="invalid_platform")
    if channel_code_id is None and platform is None:
        return False
    root = _live(session, customer_id)
    return repo.set_source_if_empty(session, root, channel_code_id, platform, utcnow())


def attribute_sources(session: Session, sources: Mapping[int, tuple[int | None, str | None]]) -> None:
    """Set first-touch sources for many customers at once (one look-up, one executemany)."""
    roots = repo.live_roots(session, sources)
    rows: dict[int, tuple[int | None, str | None]] = {}
    for customer_id, (code_id, platform) in sources.items():
        platform = (platform or "").strip() or None
        if platform is not None and len(platform) > MAX_PLATFORM:
            raise ValidationFailed(f"platform must be at most {MAX_PLATFORM} characters", code="invalid_platform")
        root = roots.get(customer_id)
        if root is not None and (code_id is not None or platform is not None):
            rows.setdefault(root, (code_id, platform))  # the first touch in the batch wins
    repo.set_sources_if_empty(session, [(root, code, platform) for root, (code, platform) in rows.items()], utcnow())


# --- profile -------------------------------------------------------------------------------------

def normalise_name(raw: str) -> str:
    """Return a person's name in the form its blind index is computed on (NFKC, single spaces)."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", raw)).strip()


def name_lookup(vault: PiiVault, name: str) -> str:
    """Return the blind index used to find a customer by exact name."""
    return vault.blind_index("name", normalise_name(name))


class SealedName(NamedTuple):
    """A name as the customers row stores it: normalised, encrypted, blind-indexed and masked."""

    name_enc: str
    name_idx: str
    name_masked: str


def seal_name(vault: PiiVault, raw: object) -> object:
    """Return a profile name sealed ahead of the write (CPU only: an import's reader process does it), or ``raw``
    unchanged when it is empty or invalid (the profile write then clears or refuses it as before)."""
    try:
        values = _name_values(vault, raw)
    except ValidationFailed:
        return raw
    return raw if values["name_enc"] is None else SealedName(**values)


def _name_values(vault: PiiVault, raw: object) -> dict[str, Any]:
    if type(raw) is SealedName:
        return raw._asdict()
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {"name_enc": None, "name_idx": None, "name_masked": None}
    if not isinstance(raw, str):
        raise ValidationFailed("name must be a string", code="invalid_name")
    name = normalise_name(raw)
    if len(name) > MAX_NAME:
        raise ValidationFailed(f"name must be at most {MAX_NAME} characters", code="invalid_name")
    return {"name_enc": vault.encrypt(name), "name_idx": vault.blind_index("name", name),
            "name_masked": mask_name(name)}


def _birthday(raw: object) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        value = raw if isinstance(raw, date) and not isinstance(raw, datetime) else date.fromisoformat(str(raw))
    except ValueError as exc:
        raise ValidationFailed("birthday must be a date such as 1990-05-17", code="invalid_birthday") from exc
    if not date(1900, 1, 1) <= value <= utcnow().date():
        raise ValidationFailed("birthday must be between 1900-01-01 and today", code="invalid_birthday")
    return value


def _place(field: str, raw: object) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str) or len(raw.strip()) > MAX_PLACE:
        raise ValidationFailed(f"{field} must be a string of at most {MAX_PLACE} characters", code=f"invalid_{field}")
    return raw.strip()


def _attributes(current: Mapping[str, Any], raw: object) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationFailed("attributes must be an object", code="invalid_attributes")
    merged = dict(current)
    for key, value in raw.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 64:
            raise ValidationFailed("attribute names must be 1-64 characters", code="invalid_attributes")
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    try:
        size = len(orjson.dumps(merged))
    except TypeError as exc:
        raise ValidationFailed("attribute values must be JSON", code="invalid_attributes") from exc
    if size > MAX_ATTRIBUTES_BYTES:
        raise ValidationFailed(f"attributes must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON",
                               code="invalid_attributes")
    return merged


def _profile_values(vault: PiiVault, attributes: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``fields`` and return the column values they set (attributes merged into ``attributes``)."""
    unknown = sorted(set(fields) - PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown profile fields: {', '.join(unknown)}", code="unknown_field", fields=unknown)
    values: dict[str, Any] = {}
    if "name" in fields:
        values.update(_name_values(vault, fields["name"]))
    if "gender" in fields:
        gender = fields["gender"] or "unknown"
        if gender not in GENDERS:
            raise ValidationFailed("gender must be male, female or unknown", code="invalid_gender")
        values["gender"] = gender
    if "birthday" in fields:
        values["birthday"] = _birthday(fields["birthday"])
    for place in ("region", "city"):
        if place in fields:
            values[place] = _place(place, fields[place])
    if "attributes" in fields:
        values["attributes"] = _attributes(attributes, fields["attributes"])
    return values


def validate_profile(vault: PiiVault, fields: Mapping[str, Any]) -> None:
    """Raise ValidationFailed if ``fields`` could not be written (lets importers reject one record early)."""
    _profile_values(vault, {}, fields)


def update_profile(session: Session, vault: PiiVault, customer_id: int, fields: Mapping[str, Any], *,
                   actor: str = "system", request_id: str | None = None) -> Customer:
    """Validate and write profile fields on the customer's live root; return the updated row."""
    root = _live(session, customer_id)
    current = session.get(Customer, root, populate_existing=True)
    assert current is not None  # _live found it
    values = _profile_values(vault, current.attributes or {}, fields)
    if values:
        values["updated_at"] = utcnow()
        repo.update_fields(session, root, values)
        audit(session, actor, "customer.update", "customer", root, {"fields": sorted(fields)}, request_id)
    updated = session.get(Customer, root, populate_existing=True)
    assert updated is not None
    return updated


def update_profiles(session: Session, vault: PiiVault, items: Sequence[tuple[int, Mapping[str, Any]]], *,
                    actor: str = "import") -> int:
    """Write many customers' profile fields in bulk (later items win per field); return customers changed.

    Validates every item before writing any, follows merged ids to their live roots, and appends one
    audit entry for the batch rather than one per customer.
    """
    roots, stored = repo.roots_and_attributes(session, {cid for cid, _f in items})
    missing = sorted({cid for cid, _f in items} - set(roots))
    if missing:
        raise NotFound(f"customers {missing[:10]} not found", code="customer_not_found", customer_ids=missing[:100])
    wanted: dict[int, list[Mapping[str, Any]]] = {}
    for cid, fields in items:
        wanted.setdefault(roots[cid], []).append(fields)
    needed = [r for r, fs in wanted.items() if any("attributes" in f for f in fs)]
    attributes = {r: repo.decoded_attributes(stored[r]) for r in needed if r in stored}
    attributes.update(repo.attributes_of(session, [r for r in needed if r not in stored]))  # roots reached by a merge
    now, rows = utcnow(), []
    for root, changes in wanted.items():
        values: dict[str, Any] = {}
        for fields in changes:
            values.update(_profile_values(vault, values.get("attributes", attributes.get(root, {})), fields))
        if values:
            rows.append({"id": root, "updated_at": now, **values})
    repo.update_many(session, rows)
    if rows:
        fields_set = sorted({f for _c, fields in items for f in fields})
        audit(session, actor, "customer.update", "customer", None, {"customers": len(rows), "fields": fields_set})
    return len(rows)


def profile_columns(vault: PiiVault, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate profile fields and return the columns they set, attributes as the patch (see write_profile_columns)."""
    values = _profile_values(vault, {}, {k: v for k, v in fields.items() if k != "attributes"})
    if "attributes" in fields:
        values["attributes"] = fields["attributes"]
    return values


def write_profile_columns(session: Session, items: Sequence[tuple[int, dict[str, Any]]], fields: Iterable[str], *,
                          actor: str = "import") -> int:
    """Write records' profile columns (as :func:`profile_columns` makes them) to their customers' live roots; return
    customers changed.

    Records are folded per root in their order (a later record's column wins, its attributes patch replaces an
    earlier one's), each root's patch is merged over its stored attributes, and ``fields`` (the records' profile
    field names) go into one audit entry: what :func:`update_profiles` writes for the same records folded per root.
    """
    roots, stored = repo.roots_and_profiles(session, {cid for cid, _v in items})
    missing = sorted({cid for cid, _v in items} - set(roots))
    if missing:
        raise NotFound(f"customers {missing[:10]} not found", code="customer_not_found", customer_ids=missing[:100])
    folded: dict[int, dict[str, Any]] = {}
    for cid, values in items:
        folded.setdefault(roots[cid], {}).update(values)
    needed = [r for r, values in folded.items() if "attributes" in values]
    attributes = {r: repo.decoded_attributes(stored[r][0]) for r in needed if r in stored}
    attributes.update(repo.attributes_of(session, [r for r in needed if r not in stored]))  # roots reached by a merge
    now, rows = utcnow(), []
    for root, values in folded.items():
        if "attributes" in values:
            values["attributes"] = _attributes(attributes.get(root, {}), values["attributes"])
        if values:
            rows.append({"id": root, "updated_at": now, **_changed(values, stored.get(root), attributes.get(root))})
    repo.update_many(session, rows)
    if rows:
        audit(session, actor, "customer.update", "customer", None, {"customers": len(rows), "fields": sorted(set(fields))})
    return len(rows)


def _changed(values: dict[str, Any], stored: tuple[Any, ...] | None, attributes: Any) -> dict[str, Any]:
    """Return ``values`` without the columns that would write what the row already holds (no index entry or page
    rewritten for nothing); a name counts as unchanged when its blind index is (the same name, sealed again)."""
    if stored is None:
        return values
    _attrs, name_idx, gender, birthday, region, city = stored
    out = {k: v for k, v in values.items()
           if not (k == "gender" and v == gender or k == "region" and v == region or k == "city" and v == city
                   or k == "birthday" and v is not None and birthday is not None and str(birthday) == v.isoformat()
                   or k == "attributes" and v == attributes)}
    if "name_idx" in out and out["name_idx"] == name_idx:
        for column in ("name_enc", "name_idx", "name_masked"):
            del out[column]
    return out


# --- reads ---------------------------------------------------------------------------------------

def _source(c: Customer) -> Source:
    return Source(platform=c.source_platform, channel_code_id=c.source_channel_code_id)


def summary_view(c: Customer) -> CustomerSummary:
    """Return the listing row of a customer (name masked)."""
    return CustomerSummary(id=c.id, name=c.name_masked, gender=c.gender, region=c.region, city=c.city,
                           source=_source(c), first_seen_at=c.first_seen_at)


def _orders_view(s: OrderSummary) -> OrderSummaryOut:
    return OrderSummaryOut(count=s.count, paid_count=s.paid_count, paid_total=str(from_fen(s.paid_net_fen)),
                           refunded_total=str(from_fen(s.refunded_fen)), first_order_at=s.first_order_at,
                           last_order_at=s.last_order_at)


def _owners(session: Session, identity_ids: list[int]) -> list[OwnerOut]:
    earliest: dict[int, OwnerOut] = {}
    for rel in sorted(owners_of(session, identity_ids), key=lambda r: (r.added_at, r.ownership_id)):
        earliest.setdefault(rel.staff_id, OwnerOut(staff_userid=rel.staff_userid, staff_name=rel.staff_name,
                                                   channel_code_id=rel.channel_code_id, added_at=rel.added_at))
    return list(earliest.values())


def _groups(session: Session, identity_ids: list[int]) -> list[GroupOut]:
    current: dict[str, GroupOut] = {}
    for g in sorted(groups_of(session, identity_ids), key=lambda g: (g.joined_at, g.stay_id)):
        if g.active:  # several identities of one person may sit in one group: list it once
            current.setdefault(g.chat_id, GroupOut(chat_id=g.chat_id, name=g.group_name, joined_at=g.joined_at))
    return list(current.values())


def _tags(session: Session, customer_id: int) -> list[str]:
    # A merge leaves tags on the tombstone (an unmerge takes them back), so they count for the survivor.
    held = tags_of(session, [customer_id, *repo.tombstone_ids(session, customer_id)])
    return sorted({name for names in held.values() for name in names})


def _detail_view(session: Session, ctx: IdentityContext, c: Customer, idents: list[Identity], *,
                 requested_id: int, unmasked: bool) -> CustomerDetail:
    ids = [i.id for i in idents]
    name = ctx.vault.decrypt(c.name_enc) if unmasked and c.name_enc else c.name_masked
    return CustomerDetail(
        id=c.id, requested_id=requested_id, merged_into=c.id if requested_id != c.id else None,
        pii="revealed" if unmasked else "masked", name=name, gender=c.gender, birthday=c.birthday, region=c.region,
        city=c.city, attributes=c.attributes or {}, source=_source(c), first_seen_at=c.first_seen_at,
        created_at=c.created_at, updated_at=c.updated_at,
        identities=[IdentityOut(id=i.id, kind=i.kind, value=reveal(ctx, i) if unmasked else i.masked,
                                masked=not unmasked, created_at=i.created_at) for i in idents],
        owners=_owners(session, ids), tags=_tags(session, c.id), groups=_groups(session, ids),
        orders=_orders_view(order_summary(session, ids)), consents=_consents(session, c.id))


def _consents(session: Session, customer_id: int) -> list[ConsentOut]:
    rows = repo.latest_consents(session, [i.id for i in identities_of(session, customer_id)])
    return [ConsentOut(channel=k.channel, purpose=k.purpose, granted=k.granted, recorded_at=k.recorded_at,
                       source=k.source) for k in rows]


CONSENT_CHANNELS = frozenset({"wecom", "sms", "email", "official_account", "app_push", "phone", "all"})


def consent_rows(events: Sequence[AcceptedEvent]) -> list[dict[str, Any]]:
    """Return the consent facts carried by consent_granted / consent_withdrawn events."""
    rows = []
    for e in events:
        channel = str(e.properties.get("channel", "")).strip().lower()
        rows.append({"identity_id": e.identity_id, "channel": channel if channel in CONSENT_CHANNELS else "other",
                     "purpose": str(e.properties.get("purpose") or "marketing")[:32],
                     "granted": e.type == "consent_granted", "source": f"event:{e.event_id}"[:64],
                     "evidence": {"channel": channel, "event_channel": e.channel, **{
                         k: v for k, v in e.properties.items() if k not in ("channel", "purpose")}},
                     "recorded_at": e.occurred_at})
    return rows


def apply_consent_events(session: Session, events: Sequence[AcceptedEvent]) -> None:
    """Append the consent facts of stored consent events (same transaction as the events)."""
    repo.insert_consents(session, consent_rows([e for e in events if e.type in ("consent_granted", "consent_withdrawn")]))


def visible_to(staff_scope: int | None) -> ColumnElement[bool]:
    """Return the predicate "the scoped staff member follows this ``Customer`` row" for other domains' queries."""
    return repo.visible(staff_scope)


def visible_customer(session: Session, principal: Principal, customer_id: int) -> Customer:
    """Return the live customer ``customer_id`` stands for if the principal may see it, else raise NotFound."""
    customer = repo.get_live(session, customer_id, staff_scope=principal.scoped_staff_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found", code="customer_not_found")
    return customer


def get_customer(session: Session, ctx: IdentityContext, principal: Principal, customer_id: int, *,
                 request_id: str | None = None) -> CustomerDetail:
    """Return the profile the principal may see (a merged id answers with its survivor); audit unmasked reads."""
    customer = visible_customer(session, principal, customer_id)
    idents = identities_of(session, customer.id)
    detail = _detail_view(session, ctx, customer, idents, requested_id=customer_id, unmasked=principal.can_read_pii)
    if principal.can_read_pii and (customer.name_enc or idents):
        audit(session, principal.actor, "pii.read", "customer", customer.id,
              {"name": customer.name_enc is not None, "identity_ids": [i.id for i in idents]}, request_id)
    return detail


def update_customer(session: Session, ctx: IdentityContext, principal: Principal, customer_id: int,
                    fields: Mapping[str, Any], *, request_id: str | None = None) -> CustomerDetail:
    """Change a visible customer's profile on behalf of ``principal`` and return the new profile."""
    if principal.role == "analyst":
        raise Forbidden("analysts have read-only access", code="read_only")
    customer = visible_customer(session, principal, customer_id)
    update_profile(session, ctx.vault, customer.id, fields, actor=principal.actor, request_id=request_id)
    return get_customer(session, ctx, principal, customer.id, request_id=request_id)


def _identity_lookup(ctx: IdentityContext, spec: str) -> str:
    """Return the blind index of ``kind:value``; kinds may themselves hold a colon (openid:<appid>)."""
    first_error: IdentityError | None = None
    for pos, char in enumerate(spec):
        if char != ":":
            continue
        kind, value = spec[:pos], spec[pos + 1:]
        try:
            _spec, norm = normalise_one(ctx, kind, value)
        except IdentityError as exc:
            if exc.code != "unknown_identity_kind":
                raise ValidationFailed(exc.message, code=exc.code) from exc
            first_error = first_error or exc
            continue
        return ctx.vault.blind_index(kind, norm)
    if first_error is not None:
        raise ValidationFailed(first_error.message, code=first_error.code)
    raise ValidationFailed("identity must be written kind:value, e.g. phone:13812345678",
                           code="invalid_identity_filter")


def _time(field: str, raw: str | datetime | None) -> datetime | None:
    if raw is None or isinstance(raw, datetime):
        return raw
    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: {exc}", code="invalid_time") from exc


def parse_filter(ctx: IdentityContext, *, identity: str | None = None, name: str | None = None,
                 owner: str | None = None, tag: str | None = None, channel_code: int | None = None,
                 group: str | None = None, source: str | None = None, added_from: str | datetime | None = None,
                 added_to: str | datetime | None = None, activity: ActivityFilter | None = None) -> CustomerFilter:
    """Validate listing filters given as strings (query parameters, CLI options); ``activity`` comes from
    :func:`siyu.domains.customers.activity.parse_activity`."""
    return CustomerFilter(
        identity_lookup=_identity_lookup(ctx, identity) if identity else None,
        name_lookup=name_lookup(ctx.vault, name) if name and name.strip() else None,
        owner=owner or None, tag=tag or None, channel_code=channel_code, group=group or None, source=source or None,
        added_from=_time("added_from", added_from), added_to=_time("added_to", added_to), activity=activity)


def list_customers(session: Session, principal: Principal, flt: CustomerFilter, *, cursor: int | None = None,
                   limit: int | None = None) -> CustomerPage:
    """Return one page of live customers the principal may see, newest first (names masked).

    An ``entered`` or ``lost`` filter first brings the summaries' index of moves up to date.
    """
    if flt.activity is not None and flt.activity.kind in MOVES:
        flt.activity.moves.ensure_fresh(session)
    size = clamp_limit(limit)
    rows = repo.list_page(session, flt, staff_scope=principal.scoped_staff_id, before_id=cursor, limit=size + 1)
    items: list[CustomerSummary] = [summary_view(c) for c in rows[:size]]
    return CustomerPage(items=items, next_cursor=rows[size - 1].id if len(rows) > size else None)


def customer_orders(session: Session, principal: Principal, customer_id: int, *,
                    limit: int | None = None) -> list[OrderOut]:
    """Return the newest orders of all the customer's identities, with refunds."""
    customer = visible_customer(session, principal, customer_id)
    ids = [i.id for i in identities_of(session, customer.id)]
    return [OrderOut(order_id=o.order_id, status=o.status, amount=str(from_fen(o.amount_fen)),
                     refunded=str(from_fen(o.refunded_fen)), placed_at=o.placed_at, channel=o.channel, store=o.store)
            for o in recent_orders(session, ids, limit=clamp_limit(limit))]


@dataclass(frozen=True, slots=True)
class RowExtras:
    """What the console's customer list shows beside a row: who follows the customer, which tags it holds."""

    owners: list[str]
    tags: list[str]


def list_extras(session: Session, customer_ids: Sequence[int]) -> dict[int, RowExtras]:
    """Return owners' names and tags of a page of live customers, in a fixed number of queries."""
    if not customer_ids:
        return {}
    holder = {cid: cid for cid in customer_ids} | dict(repo.tombstone_pairs(session, customer_ids))
    owner_of = dict(repo.identity_pairs(session, customer_ids))
    owners: dict[int, set[str]] = {cid: set() for cid in customer_ids}
    for rel in owners_of(session, list(owner_of)):
        owners[owner_of[rel.identity_id]].add(rel.staff_name)
    tags: dict[int, set[str]] = {cid: set() for cid in customer_ids}
    for cid, names in tags_of(session, list(holder)).items():
        tags[holder[cid]].update(names)
    return {cid: RowExtras(sorted(owners[cid]), sorted(tags[cid])) for cid in customer_ids}


# --- timeline ------------------------------------------------------------------------------------
# Events and order facts merge newest first on (at, rank, id) with orders (rank 1) before events
# (rank 0) at the same instant; the ``before`` token names the last item shown, so pages never skip
# or repeat items that share a timestamp.

_RANK = {"order": 1, "event": 0}
_ALL_AT_INSTANT = 2**62  # an id above every row: "everything at this instant is still to come"
_TOKEN = re.compile(r"^(\d+)([eo])(\d+)$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _token(item: TimelineItem) -> str:
    micros = (item.at - _EPOCH) // _MICRO
    return f"{micros}{item.kind[0]}{item.id}"


def _stream_bounds(before: str | None) -> tuple[tuple[datetime, int] | None, tuple[datetime, int] | None]:
    """Return the (at, id) bound of the order stream and of the event stream for a ``before`` value."""
    if not before:
        return None, None
    match = _TOKEN.match(before)
    if match is None:
        at = _time("before", before)
        assert at is not None
        return (at, 0), (at, 0)
    at = _EPOCH + int(match.group(1)) * _MICRO
    row_id = int(match.group(3))
    if match.group(2) == "o":
        return (at, row_id), (at, _ALL_AT_INSTANT)
    return (at, 0), (at, row_id)


def _event_item(e: EventEntry, unmasked: bool, revealed: list[int]) -> TimelineItem:
    masked, found = redact(e.properties)
    if found and unmasked:
        revealed.append(e.id)
    return TimelineItem(kind="event", id=e.id, at=e.at, identity_id=e.identity_id, type=e.type, channel=e.channel,
                        event_id=e.event_id, properties=e.properties if unmasked else masked)


def _order_item(o: OrderFactEntry) -> TimelineItem:
    return TimelineItem(kind="order", id=o.id, at=o.at, identity_id=o.identity_id, type=o.status, channel=o.channel,
                        order_id=o.order_id, amount=str(from_fen(o.amount_fen)), store=o.store)


def customer_timeline(session: Session, principal: Principal, customer_id: int, *, before: str | None = None,
                      limit: int | None = None, request_id: str | None = None) -> TimelinePage:
    """Return events and order facts of all the customer's identities, newest first, older than ``before``.

    Personal data found inside event properties (kit.redact) is masked unless the principal may
    read PII; a page that shows such data unmasked appends a ``pii.read`` audit entry.
    """
    customer = visible_customer(session, principal, customer_id)
    size = clamp_limit(limit)
    ids = [i.id for i in identities_of(session, customer.id)]
    order_bound, event_bound = _stream_bounds(before)
    revealed: list[int] = []
    items = [_order_item(o) for o in order_facts_before(session, ids, before=order_bound, limit=size + 1)]
    items += [_event_item(e, principal.can_read_pii, revealed)
              for e in events_before(session, ids, before=event_bound, limit=size + 1)]
    items.sort(key=lambda i: (i.at, _RANK[i.kind], i.id), reverse=True)
    page = items[:size]
    shown = {i.id for i in page if i.kind == "event"}
    if any(event_id in shown for event_id in revealed):
        audit(session, principal.actor, "pii.read", "customer", customer.id,
              {"event_properties": sorted(e for e in revealed if e in shown)}, request_id)
    return TimelinePage(customer_id=customer.id, items=page,
                        next_before=_token(page[-1]) if len(items) > size else None)

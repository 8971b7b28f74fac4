"""The content library's rules: items, variants, collections, personalised rendering and tracked sends.

Other domains (mass messages, journeys) turn an item into per-customer outbox payloads with
:func:`prepare_sends`: it picks each customer's A/B variant (stable by a hash of item and customer,
weighted), renders the body with the customer's whitelisted fields, mints one tracked link per
(item, customer, send) and records the send (``content_sends``), all idempotent by the outbox key.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains.access import audit
from siyu.domains.content import render as tpl
from siyu.domains.content import repository as repo
from siyu.domains.content.models import ContentCollection, ContentItem, ContentLink, ContentSend, ContentVariant
from siyu.domains.content.schemas import ItemIn, ItemPatch, VariantIn
from siyu.domains.customers import Customer
from siyu.domains.scores import CustomerScore
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow

HTML_KINDS = frozenset({"article"})
ATTRIBUTION = timedelta(days=7)  # the bandit's conversion window (metrics take theirs per request)
_CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass
class ItemView:
    """An item with its variants."""

    item: ContentItem
    variants: list[ContentVariant] = field(default_factory=list)


def _check_bodies(kind: str, **bodies: str | None) -> None:
    for name, body in bodies.items():
        if body:
            tpl.check(body, html=kind in HTML_KINDS, field=name)


def create_item(session: Session, data: ItemIn, *, actor: str, now: datetime | None = None) -> ContentItem:
    """Create a content item after checking its template."""
    _check_bodies(data.kind, body=data.body)
    now = now or utcnow()
    row = repo.add(session, ContentItem(**data.model_dump(), status="active", created_by=actor[:80],
                                        created_at=now, updated_at=now))
    audit(session, actor, "content.create", "content", row.id, {"title": row.title, "kind": row.kind})
    return row


def get_item(session: Session, content_id: int) -> ContentItem:
    """Return an item or raise NotFound."""
    row = repo.item(session, content_id)
    if row is None:
        raise NotFound(f"no content item {content_id}", code="content_not_found")
    return row


def item_view(session: Session, content_id: int) -> ItemView:
    """Return an item with its variants."""
    return ItemView(get_item(session, content_id), repo.variants(session, [content_id]))


def list_items(session: Session, *, kind: str | None = None, status: str | None = "active", topic: str | None = None,
               q: str | None = None, limit: int = 200) -> list[ItemView]:
    """Return items newest first with their variants."""
    rows = repo.items(session, kind=kind, status=status, topic=topic, q=q, limit=max(1, min(limit, 500)))
    by_item: dict[int, list[ContentVariant]] = {}
    for v in repo.variants(session, [r.id for r in rows]):
        by_item.setdefault(v.content_id, []).append(v)
    return [ItemView(r, by_item.get(r.id, [])) for r in rows]


def update_item(session: Session, content_id: int, patch: ItemPatch, *, actor: str) -> ContentItem:
    """Change an item's fields (a new body is checked first)."""
    row = get_item(session, content_id)
    changes = patch.model_dump(exclude_unset=True)
    if not changes:
        raise ValidationFailed("nothing to change", code="empty_patch")
    _check_bodies(row.kind, body=changes.get("body"))
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    session.flush()
    audit(session, actor, "content.update", "content", row.id, {"fields": sorted(changes)})
    return row


def add_variant(session: Session, content_id: int, data: VariantIn, *, actor: str) -> ContentVariant:
    """Add an A/B variant to an item."""
    row = get_item(session, content_id)
    _check_bodies(row.kind, body=data.body)
    if any(v.name == data.name for v in repo.variants(session, [content_id])):
        raise Conflict(f"item {content_id} already has a variant {data.name!r}", code="variant_exists")
    variant = repo.add(session, ContentVariant(content_id=content_id, **data.model_dump(), created_at=utcnow()))
    audit(session, actor, "content.variant", "content", content_id, {"variant": data.name})
    return variant


def create_collection(session: Session, name: str, description: str, content_ids: Sequence[int], *,
                      actor: str) -> ContentCollection:
    """Create a collection of existing items (in the given order)."""
    if repo.collection(session, name) is not None:
        raise Conflict(f"a collection named {name!r} exists", code="collection_exists")
    row = repo.add(session, ContentCollection(name=name, description=description, created_at=utcnow()))
    set_collection_items(session, row.id, content_ids)
    audit(session, actor, "content.collection", "content_collection", row.id, {"name": name})
    return row


def set_collection_items(session: Session, collection_id: int, content_ids: Sequence[int]) -> None:
    """Replace a collection's items; every id must be an item."""
    ids = list(dict.fromkeys(content_ids))
    missing = sorted(set(ids) - repo.existing_item_ids(session, ids))
    if missing:
        raise ValidationFailed(f"unknown content items: {', '.join(map(str, missing))}", code="content_not_found",
                               status=422)
    repo.replace_collection_items(session, collection_id, ids)


def get_collection(session: Session, ref: int | str) -> tuple[ContentCollection, list[int]]:
    """Return a collection (by id or name) and its item ids."""
    row = repo.collection(session, ref)
    if row is None:
        raise NotFound(f"no content collection {ref!r}", code="collection_not_found")
    return row, repo.collection_items(session, row.id)


def list_collections(session: Session) -> list[tuple[ContentCollection, list[int]]]:
    """Return every collection with its item ids."""
    return [(c, repo.collection_items(session, c.id)) for c in repo.collections(session)]


def customer_values(session: Session, vault: PiiVault, customer_id: int, *, reveal: bool = True) -> dict[str, Any]:
    """Return the whitelisted personalisation fields of a customer (absent ones left out; masked name unless ``reveal``)."""
    c = repo.customer(session, customer_id)
    if c is None or c.merged_into_id is not None:
        raise NotFound(f"no customer {customer_id}", code="customer_not_found")
    return values_of(c, repo.score(session, customer_id), vault, reveal=reveal)


def values_of(c: Customer, score: CustomerScore | None, vault: PiiVault, *, reveal: bool = True) -> dict[str, Any]:
    """Return the whitelisted personalisation fields of a loaded customer and score row."""
    attrs = c.attributes or {}
    values: dict[str, Any] = {
        "name": (vault.decrypt(c.name_enc) if c.name_enc else None) if reveal else c.name_masked,
        "gender": c.gender if c.gender != "unknown" else None, "city": c.city, "region": c.region,
        "member_tier": attrs.get("member_tier"), "staff_name": attrs.get("staff_name"),
        "stage": score.aipl_stage if score else None, "rfm_segment": score.rfm_segment if score else None,
        "lifecycle_tier": score.lifecycle_tier if score else None}
    return {k: v for k, v in values.items() if v not in (None, "")}


def pick_variant(item_id: int, customer_id: int, variants: Sequence[ContentVariant]) -> ContentVariant | None:
    """Return a customer's variant: stable for (item, customer), in proportion to the weights (None: the item)."""
    live = [v for v in variants if v.weight > 0]
    total = sum(v.weight for v in live)
    if not total:
        return None
    digest = hashlib.sha256(f"{item_id}:{customer_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for v in live:
        if point < v.weight:
            return v
        point -= v.weight
    return live[-1]  # unreachable: the points cover [0, total)


def render_for(session: Session, vault: PiiVault, item: ContentItem, variant: ContentVariant | None,
               customer_id: int | None, extra: Mapping[str, Any] | None = None, *, reveal: bool = True) -> str:
    """Render an item (or one of its variants) for a customer, or with sample values only."""
    values = customer_values(session, vault, customer_id, reveal=reveal) if customer_id is not None else {}
    values.update(extra or {})
    body = variant.body if variant is not None and variant.body else item.body
    return tpl.render(body, values, html=item.kind in HTML_KINDS)


def new_code() -> str:
    """Return a fresh 10-character link code (57 letters and digits: 2^58 codes)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


def short_link(settings: Settings, code: str) -> str:
    """Return the public address of a tracked link."""
    return f"{settings.public_url}/l/{code}"


@dataclass(frozen=True)
class Prepared:
    """One customer's rendered message for an item, keyed by its outbox idempotency key."""

    send_key: str
    customer_id: int
    payload: dict[str, Any]


def prepare_sends(session: Session, settings: Settings, content_id: int, recipients: Mapping[int, str], *,
                  source: str, variant: str | None = None, now: datetime | None = None) -> list[Prepared]:
    """Render ``content_id`` for each customer → send key and record the sends and their links (idempotent)."""
    now = now or utcnow()
    vault = PiiVault(settings.effective_secret_key)
    view = item_view(session, content_id)
    fixed = named_variant(view, variant)
    keys = list(recipients.values())
    codes = repo.links_by_send_keys(session, keys)
    rows, scored = repo.customers(session, list(recipients)), repo.scores(session, list(recipients))
    html = view.item.kind in HTML_KINDS
    links, sends, out = [], [], []
    for customer_id, key in recipients.items():
        chosen = fixed or pick_variant(content_id, customer_id, view.variants)
        code = codes.get(key)
        if code is None and view.item.url:
            code = new_code()
            links.append({"code": code, "content_id": content_id, "variant_id": chosen.id if chosen else None,
                          "customer_id": customer_id, "send_key": key, "target_url": view.item.url, "created_at": now})
        url = short_link(settings, code) if code else None
        row, score = rows.get(customer_id), scored.get(customer_id)
        if row is None or row.merged_into_id is not None:
            raise NotFound(f"no customer {customer_id}", code="customer_not_found")
        values = values_of(row, score, vault) | ({"link": url} if url else {})
        text = tpl.render(chosen.body if chosen and chosen.body else view.item.body, values, html=html)
        sends.append({"send_key": key, "content_id": content_id, "variant_id": chosen.id if chosen else None,
                      "customer_id": customer_id, "stage": (score.aipl_stage if score else None) or "none",
                      "source": source[:80],
                      "link_code": code, "sent_at": now, "attribution_until": now + ATTRIBUTION})
        out.append(Prepared(key, customer_id, _payload(view.item, chosen, text, url)))
    repo.insert_ignore(session, ContentLink, links, "send_key")
    repo.insert_ignore(session, ContentSend, sends, "send_key")
    return out


def named_variant(view: ItemView, name: str | None) -> ContentVariant | None:
    """Return the item's variant called ``name`` (None: the item itself); 422 if it has none such."""
    if name is None:
        return None
    found = next((v for v in view.variants if v.name == name), None)
    if found is None:
        raise ValidationFailed(f"item {view.item.id} has no variant {name!r}", code="variant_not_found")
    return found


def _payload(item: ContentItem, variant: ContentVariant | None, text: str, url: str | None) -> dict[str, Any]:
    return {"content_id": item.id, "kind": item.kind, "variant": variant.name if variant else None,
            "title": (variant.title if variant and variant.title else item.title), "text": text, "url": url,
            "media_id": item.media_id, "meta": item.meta or {}}


def prepare_group_send(session: Session, settings: Settings, content_id: int, send_key: str, *,
                       variant: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Render ``content_id`` for a group chat (no customer's fields) with a tracked link of its own; return the payload."""
    view = item_view(session, content_id)
    chosen = named_variant(view, variant)
    code = repo.links_by_send_keys(session, [send_key]).get(send_key)
    if code is None and view.item.url:
        code = new_code()
        repo.insert_ignore(session, ContentLink, [{"code": code, "content_id": content_id,
                                                   "variant_id": chosen.id if chosen else None, "customer_id": None,
                                                   "send_key": send_key, "target_url": view.item.url,
                                                   "created_at": now or utcnow()}], "send_key")
    url = short_link(settings, code) if code else None
    text = tpl.render(chosen.body if chosen and chosen.body else view.item.body, {"link": url} if url else {},
                      html=view.item.kind in HTML_KINDS)
    return _payload(view.item, chosen, text, url)

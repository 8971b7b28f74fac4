"""Tracked short links: a click on ``/l/{code}`` becomes a ``content_clicked`` event of that customer.

A click is recorded once per **click id**: the ``c`` query parameter when the page that opened the
link supplies one, else a hash of (code, client address, user agent, minute), so a messenger's link
preview fetched twice in a minute, or a double tap, is one click. The event goes through ingestion
like any other fact (``event_id`` ``content_click:<click id>``, so a replay is a duplicate there too)
under one of the customer's identities, with the item's first topic as ``topic`` so that clicks feed
the content-interest tags (analytics/interest.py), and the link's send key, item and variant as
properties. Links minted for no customer (a preview) count the click without an event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.domains.content import repository as repo
from siyu.domains.identity import service as identity
from siyu.domains.ingest import service as ingest
from siyu.errors import NotFound
from siyu.kit.time import utcnow

_CODE_CHARS = frozenset("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")


@dataclass(frozen=True)
class Click:
    """Where a click goes and whether it was new."""

    target: str
    new: bool
    event_recorded: bool


def click_id_for(code: str, supplied: str | None, client: str, user_agent: str, now: datetime) -> str:
    """Return the click id: the supplied one, else a hash of code, client, user agent and minute."""
    if supplied and 0 < len(supplied) <= 64 and supplied.isascii() and supplied.isprintable():
        return f"c:{code}:{supplied}"
    minute = now.strftime("%Y%m%d%H%M")
    digest = hashlib.sha256(f"{code}|{client}|{user_agent}|{minute}".encode()).hexdigest()[:32]
    return f"h:{digest}"


def record_click(session: Session, ctx: ingest.IngestContext, code: str, click_id: str,
                 now: datetime | None = None) -> Click:
    """Record one click of ``code`` (once per ``click_id``) and return its target; NotFound for unknown codes."""
    link = repo.link(session, code) if 0 < len(code) <= 16 and set(code) <= _CODE_CHARS else None
    if link is None:
        raise NotFound("this link does not exist", code="link_not_found")
    now = now or utcnow()
    new = repo.insert_click(session, {"click_id": click_id, "link_id": link.id, "content_id": link.content_id,
                                      "variant_id": link.variant_id, "customer_id": link.customer_id,
                                      "send_key": link.send_key, "clicked_at": now})
    recorded = False
    if new and link.customer_id is not None:
        recorded = _click_event(session, ctx, link.customer_id, link.content_id, link.variant_id, link.send_key,
                                code, click_id, now)
    return Click(link.target_url, new, recorded)


def _click_event(session: Session, ctx: ingest.IngestContext, customer_id: int, content_id: int,
                 variant_id: int | None, send_key: str | None, code: str, click_id: str, now: datetime) -> bool:
    try:
        idents = identity.identities_of(session, customer_id)
    except NotFound:
        return False  # the customer was erased since the send
    if not idents:
        return False
    ident = idents[0]
    item = repo.item(session, content_id)
    props = {"content_id": content_id, "link": code, "send_key": send_key, "variant_id": variant_id}
    if item is not None and item.topics:
        props["topic"] = item.topics[0]
    raw = {"event_id": f"content_click:{click_id}", "type": "content_clicked", "occurred_at": now.isoformat(),
           "identities": {ident.kind: identity.reveal(ctx.ids, ident)}, "channel": "content_link",
           "properties": {k: v for k, v in props.items() if v is not None}}
    result = ingest.ingest_events(session, ctx, [raw])
    return result.accepted == 1

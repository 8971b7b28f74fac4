"""The outbox: messages a customer will receive, written in the same transaction as their cause.

Writers only :func:`enqueue`; ``idempotency_key`` makes every enqueue safe to replay (a second message
with the same key is dropped) and is the key every channel adapter receives. The dispatcher
(``dispatcher.py``) applies the stored policy (``policy.py``) and sends. This module also keeps the
policy document, the opt-out lists (do-not-contact and unsubscribes), the unsubscribe keywords of
inbound replies (:func:`handle_inbound_text`) and the signed one-click unsubscribe tokens of email.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from siyu.domains.outbox import repository as repo
from siyu.domains.outbox.models import DoNotContact, OutboxMessage, RecordedDelivery
from siyu.domains.outbox.policy import Policy, policy_from_doc
from siyu.errors import NotFound, ValidationFailed
from siyu.kit.pagination import clamp_limit
from siyu.kit.time import utcnow

CATEGORIES = frozenset({"transactional", "marketing"})
STATUSES = ("pending", "sending", "sent", "deferred", "dropped", "suppressed", "failed", "dead")
OPT_OUT_SCOPES = frozenset({"all", "marketing"})
# Whole replies that unsubscribe (case-insensitive, surrounding spaces and punctuation ignored).
UNSUBSCRIBE_KEYWORDS = frozenset({"退订", "td", "t", "unsubscribe", "stop", "取消订阅", "退订短信"})
_PUNCT = re.compile(r"^[\s\W_]+|[\s\W_]+$")


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to enqueue (``source`` says who asked: ``journey:12:step:3``, ``mass:7``, …)."""

    idempotency_key: str
    kind: str
    channel: str
    payload: dict[str, Any]
    customer_id: int | None = None
    staff_id: int | None = None
    category: str = "transactional"
    send_after: datetime | None = None
    source: str | None = None
    subject: str | None = None
    content_id: int | None = None
    mass_message_id: int | None = None


def enqueue(session: Session, messages: Sequence[NewMessage], *, now: datetime | None = None) -> None:
    """Enqueue messages in bulk, ignoring replays of a known idempotency key."""
    if not messages:
        return
    now = now or utcnow()
    for m in messages:
        if m.category not in CATEGORIES:
            raise ValidationFailed(f"category {m.category!r} must be transactional or marketing",
                                   code="outbox_bad_category")
    rows = [{"idempotency_key": m.idempotency_key, "kind": m.kind, "channel": m.channel,
             "category": m.category, "customer_id": m.customer_id, "staff_id": m.staff_id,
             "payload": m.payload, "status": "pending", "send_after": m.send_after or now, "created_at": now,
             "source": m.source, "subject": m.subject, "content_id": m.content_id,
             "mass_message_id": m.mass_message_id, "attempts": 0}
            for m in messages]
    repo.insert_new(session, rows)


def list_messages(session: Session, *, kind: str | None = None, customer_id: int | None = None,
                  status: str | None = None, reason: str | None = None, source: str | None = None,
                  limit: int | None = None) -> list[OutboxMessage]:
    """Return the newest outbox messages, optionally filtered."""
    if status and status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}", code="outbox_bad_status")
    return repo.messages(session, kind=kind, customer_id=customer_id, status=status, reason=reason, source=source,
                         limit=clamp_limit(limit))


def counts(session: Session) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Return message counts by status and by (status, reason)."""
    return repo.status_counts(session), repo.reason_counts(session)


def load_policy(session: Session) -> Policy:
    """Return the stored messaging policy (the defaults if none was saved)."""
    return policy_from_doc(repo.policy_doc(session))


def save_policy(session: Session, doc: dict[str, Any], *, actor: str, now: datetime | None = None) -> Policy:
    """Validate and store a messaging policy document; return it."""
    try:
        policy = Policy.model_validate(doc)
    except ValidationError as exc:
        raise ValidationFailed("invalid messaging policy", code="outbox_bad_policy",
                               errors=[f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]) from exc
    repo.save_policy(session, policy.model_dump(mode="json"), actor, now or utcnow())
    return policy


def add_opt_out(session: Session, *, customer_id: int, channel: str = "*", scope: str = "all", source: str,
                note: str | None = None, now: datetime | None = None) -> bool:
    """Record that a customer must not be contacted (scope all) or marketed to (scope marketing) on a channel."""
    if scope not in OPT_OUT_SCOPES:
        raise ValidationFailed("scope must be all or marketing", code="outbox_bad_scope")
    if not channel or len(channel) > 32:
        raise ValidationFailed("channel must be a channel name or *", code="outbox_bad_channel")
    return repo.add_opt_out(session, {"customer_id": customer_id, "channel": channel, "scope": scope,
                                      "source": source[:80], "note": note, "created_at": now or utcnow()})


def list_opt_outs(session: Session, *, scope: str | None = None, customer_id: int | None = None,
                  limit: int | None = None) -> list[DoNotContact]:
    """Return the newest opt-outs (scope all: the do-not-contact list)."""
    return repo.list_opt_outs(session, scope=scope, customer_id=customer_id, limit=clamp_limit(limit))


def remove_opt_out(session: Session, entry_id: int) -> DoNotContact:
    """Remove an opt-out entry; return it."""
    entry = repo.get_opt_out(session, entry_id)
    if entry is None:
        raise NotFound(f"no do-not-contact entry {entry_id}", code="outbox_opt_out_not_found")
    repo.delete_opt_out(session, entry_id)
    return entry


def unsubscribe_keyword(text: str) -> str | None:
    """Return the unsubscribe keyword ``text`` consists of, or None."""
    word = _PUNCT.sub("", text or "").strip().lower()
    return word if word in UNSUBSCRIBE_KEYWORDS else None


def handle_inbound_text(session: Session, customer_id: int, channel: str, text: str, *,
                        now: datetime | None = None) -> bool:
    """Unsubscribe the customer from marketing on ``channel`` if the reply is an unsubscribe keyword."""
    word = unsubscribe_keyword(text)
    if word is None:
        return False
    add_opt_out(session, customer_id=customer_id, channel=channel, scope="marketing", source=f"keyword:{word}",
                now=now)
    return True


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsubscribe_token(secret: str, customer_id: int, channel: str = "email") -> str:
    """Return the signed token of a one-click unsubscribe link (HMAC-SHA256 with the install's secret)."""
    body = f"{customer_id}.{channel}"
    sig = hmac.new(secret.encode(), f"unsubscribe:{body}".encode(), hashlib.sha256).digest()[:16]
    return f"{_b64(body.encode())}.{_b64(sig)}"


def verify_unsubscribe_token(secret: str, token: str) -> tuple[int, str]:
    """Return the (customer, channel) a valid token names; raise ValidationFailed if it is forged or garbled."""
    try:
        body_b64, _ = token.split(".", 1)
        body = base64.urlsafe_b64decode(body_b64 + "=" * (-len(body_b64) % 4)).decode()
        customer, channel = body.split(".", 1)
        expected = unsubscribe_token(secret, int(customer), channel)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("this unsubscribe link is not valid", code="outbox_bad_unsubscribe_token") from exc
    if not hmac.compare_digest(expected, token):
        raise ValidationFailed("this unsubscribe link is not valid", code="outbox_bad_unsubscribe_token")
    return int(customer), channel


def unsubscribe_with_token(session: Session, secret: str, token: str, *, now: datetime | None = None) -> int:
    """Unsubscribe the customer a signed link names from marketing on its channel; return the customer."""
    customer_id, channel = verify_unsubscribe_token(secret, token)
    add_opt_out(session, customer_id=customer_id, channel=channel, scope="marketing", source="email_link", now=now)
    return customer_id


def record_delivery(session: Session, *, idempotency_key: str, adapter: str, channel: str, recipient: str | None,
                    body: dict[str, Any], now: datetime | None = None) -> bool:
    """Store what a record-only adapter would send (once per key); return whether it was new."""
    return repo.record_delivery(session, {"idempotency_key": idempotency_key, "adapter": adapter, "channel": channel,
                                          "recipient": recipient, "body": body, "recorded_at": now or utcnow()})


def recorded_deliveries(session: Session, *, adapter: str | None = None, limit: int | None = None) -> list[RecordedDelivery]:
    """Return the newest recorded deliveries."""
    return repo.recorded(session, adapter=adapter, limit=clamp_limit(limit))

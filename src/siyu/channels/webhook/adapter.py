"""Signed webhooks: POST the message as JSON with an HMAC-SHA256 signature, and the receiver's check.

Headers: ``X-Siyu-Timestamp`` (Unix seconds), ``X-Siyu-Signature: v1=<hex>`` where ``<hex>`` is
HMAC-SHA256 with the shared secret over ``"<timestamp>.<raw body>"``, and ``Idempotency-Key`` (the
outbox key; a receiver that remembers it makes replays harmless). Receivers call
:func:`verify_signature` (or do the same in any language, docs/messaging.md#signed-webhooks), which
rejects a wrong signature and a timestamp older than the tolerance (replay protection).
Retries: a timeout, a connection failure, 408, 429 or 5xx is transient (the dispatcher retries with
backoff); another 4xx is permanent. Payload: ``{"url": target, "body": {...}}``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from typing import Any

import orjson

from siyu.domains.outbox.ports import Outgoing, PermanentSendError, SendResult, TransientSendError

SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-Siyu-Signature", "X-Siyu-Timestamp"
TRANSIENT_STATUSES = frozenset({408, 425, 429})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``v1=<hex>`` signature of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify_signature(secret: str, body: bytes, timestamp: str | None, signature: str | None, *,
                     now: float | None = None, tolerance: int = 300) -> bool:
    """Return whether a webhook's signature is ours and its timestamp within ``tolerance`` seconds of now."""
    if not timestamp or not signature:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature.strip())


class WebhookAdapter:
    """POST signed JSON to the message's URL."""

    channel = "webhook"
    idempotent = True  # when the receiver honours Idempotency-Key, as docs/messaging.md asks

    def __init__(self, secret: str, *, timeout: float = 10.0, clock: Any = time.time) -> None:
        self.secret, self.timeout, self.clock = secret, timeout, clock

    def send(self, message: Outgoing) -> SendResult:
        """Deliver the webhook; raise a transient or permanent error by the response."""
        url = message.payload.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise PermanentSendError("a webhook needs payload.url (http or https)", "no_recipient")
        body = orjson.dumps({"id": message.idempotency_key, "kind": message.kind, "customer_id": message.customer_id,
                             "source": message.source, "data": message.payload.get("body", {})})
        ts = int(self.clock())
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(self.secret, ts, body),
            "Idempotency-Key": message.idempotency_key, "User-Agent": "siyu-webhook/1"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http/https only)
                return SendResult(provider_ref=f"http {response.status}")
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code in TRANSIENT_STATUSES:
                raise TransientSendError(f"{url}: HTTP {exc.code}") from exc
            raise PermanentSendError(f"{url}: HTTP {exc.code}", f"http_{exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransientSendError(f"{url}: {exc}") from exc

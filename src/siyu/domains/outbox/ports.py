"""The port channel adapters implement (src/siyu/channels/<name>/adapter.py), and its errors.

An adapter receives one :class:`Outgoing` message carrying its ``idempotency_key`` and either returns
a :class:`SendResult` or raises :class:`TransientSendError` (retried with backoff) or
:class:`PermanentSendError` (dead-lettered with its reason). ``idempotent`` says whether the channel
itself deduplicates on the key, i.e. whether a replay after a killed worker is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message handed to an adapter."""

    id: int
    idempotency_key: str
    kind: str
    channel: str
    category: str
    customer_id: int | None
    staff_id: int | None
    payload: dict[str, Any]
    subject: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the channel said: its reference for the message (a Message-ID, a provider id)."""

    provider_ref: str | None = None


class TransientSendError(Exception):
    """The channel failed in a way worth retrying (timeouts, 5xx, rate limited, connection refused)."""


class PermanentSendError(Exception):
    """The channel refused the message for good (bad address, 4xx); ``reason`` is a short code."""

    def __init__(self, message: str, reason: str = "permanent_error") -> None:
        super().__init__(message)
        self.reason = reason


class ChannelAdapter(Protocol):
    """Send one message on one channel."""

    channel: str
    idempotent: bool

    def send(self, message: Outgoing) -> SendResult:
        """Deliver ``message`` (carrying its idempotency key) or raise a send error."""
        ...

"""API shapes of the outbox: messages with their status and reason, counts, opt-outs, the policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class MessageOut(BaseModel):
    id: int
    idempotency_key: str
    kind: str
    channel: str
    category: str
    customer_id: int | None
    source: str | None
    status: str
    reason: str | None = Field(description="Why it was not sent (yet): docs/messaging.md#reason-codes.")
    attempts: int
    last_error: str | None
    send_after: datetime = Field(description="When it is (or was) next due: first try, end of a hold, next retry.")
    sent_at: datetime | None
    provider_ref: str | None
    created_at: datetime


class MessageList(BaseModel):
    items: list[MessageOut]


class CountsOut(BaseModel):
    by_status: dict[str, int]
    by_reason: list[dict[str, Any]] = Field(description="[{status, reason, count}] of held, failed and dead messages.")


class OptOutIn(BaseModel):
    customer_id: int
    channel: str = Field(default="*", max_length=32, description="A channel (wecom, sms, email, …) or * for all.")
    scope: str = Field(default="all", description="all: do not contact at all; marketing: unsubscribed.")
    note: str | None = Field(default=None, max_length=200)


class OptOutOut(BaseModel):
    id: int
    customer_id: int
    channel: str
    scope: str
    source: str
    note: str | None
    created_at: datetime


class OptOutList(BaseModel):
    items: list[OptOutOut]


class UnsubscribeIn(BaseModel):
    customer_id: int
    channel: str = Field(max_length=32)
    text: str = Field(max_length=2000)


class UnsubscribeOut(BaseModel):
    unsubscribed: bool

"""Shapes of ingested facts. Each item is validated on its own so one bad item never sinks a batch."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from siyu.kit.time import UTC


ORDER_STATUSES = ("created", "paid", "shipped", "delivered", "completed", "cancelled", "refunded")


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+08:00 falls before year 1 in UTC
        raise ValueError("the time falls outside years 1-9999 once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]  # every stored time is UTC


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EventIn(_Strict):
    """One behavioural event."""

    event_id: str = Field(min_length=1, max_length=128, description="Your unique id; replays are ignored.")
    type: str = Field(min_length=1, max_length=80, description="A standard type or 'namespace.name'.")
    occurred_at: UtcDatetime = Field(description="ISO-8601 with a UTC offset, or epoch seconds/milliseconds.")
    identities: dict[str, Any] = Field(min_length=1, max_length=12, description="{kind: value}, e.g. {'phone': '13812345678'}")
    channel: str | None = Field(default=None, max_length=64, description="Where it happened: wecom, mini_program, app…")
    properties: dict[str, Any] = Field(default_factory=dict)


class OrderLineIn(_Strict):
    """One line of an order."""

    sku: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=64)
    quantity: int = Field(default=1, ge=1, le=100000)
    unit_price: Decimal = Field(ge=0, description="Yuan, at most 2 decimals.")
    amount: Decimal | None = Field(default=None, ge=0, description="Line total in yuan; defaults to quantity × unit_price.")


class OrderIn(_Strict):
    """One state of one order. Later states (delivered, refunded…) are new facts for the same order_id."""

    order_id: str = Field(min_length=1, max_length=128)
    status: Literal["created", "paid", "shipped", "delivered", "completed", "cancelled", "refunded"]
    occurred_at: UtcDatetime = Field(description="ISO-8601 with a UTC offset, or epoch seconds/milliseconds.")
    amount: Decimal = Field(ge=0, description="Order total in yuan, at most 2 decimals.")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    identities: dict[str, Any] = Field(default_factory=dict, max_length=12,
                                       description="Required for an order's first fact; optional afterwards.")
    channel: str | None = Field(default=None, max_length=64)
    store: str | None = Field(default=None, max_length=64)
    items: list[OrderLineIn] = Field(default_factory=list, max_length=500)
    refund_amount: Decimal | None = Field(default=None, ge=0, description="For status 'refunded': yuan refunded (default: all).")
    refund_id: str | None = Field(default=None, max_length=128, description="Tells several partial refunds apart.")
    properties: dict[str, Any] = Field(default_factory=dict)


class CustomerIn(_Strict):
    """A customer record from an ERP/CRM import: identities plus profile attributes."""

    identities: dict[str, Any] = Field(min_length=1, max_length=12)
    name: str | None = Field(default=None, max_length=64)
    gender: Literal["male", "female", "unknown"] | None = None
    birthday: str | None = Field(default=None, description="YYYY-MM-DD")
    region: str | None = Field(default=None, max_length=32)
    city: str | None = Field(default=None, max_length=32)
    attributes: dict[str, Any] = Field(default_factory=dict)
    owner_userid: str | None = Field(default=None, max_length=64, description="Staff member who follows this customer.")
    occurred_at: UtcDatetime | None = Field(default=None, description="When the record was true; default now.")


class Rejection(BaseModel):
    """Why one item of a batch was not accepted."""

    index: int
    code: str
    message: str
    field: str | None = None


class IngestResult(BaseModel):
    """What happened to a batch: accepted and duplicates count; rejected lists each bad item."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = Field(default_factory=list)


class EventBatch(BaseModel):
    """POST /api/v1/events body."""

    model_config = ConfigDict(extra="forbid")
    events: list[EventIn]


class OrderBatch(BaseModel):
    """POST /api/v1/orders body."""

    model_config = ConfigDict(extra="forbid")
    orders: list[OrderIn]

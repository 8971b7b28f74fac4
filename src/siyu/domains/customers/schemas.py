"""API shapes of the customers domain.

Money is a Decimal string in yuan ("199.00"); times are ISO-8601 in UTC. PII (the name and
identity values) is masked unless the caller may read PII, and ``pii`` says which one you got.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


NONE = "-"  # a filter value meaning "none recorded": source=- (no source platform), activity_code=- (no code)
ACTIVITIES = ("connected", "entered", "lost", "contact_added", "contact_deleted", "group_joined", "group_left",
              "active", "ordered", "repurchased")


@dataclass(frozen=True)
class ActivityFilter:
    """Customers who did something between two instants (the dashboard's figures link to these).

    ``connected`` is a state, not a move: a connection open at ``end`` (the end of the last day asked
    for); ``start`` is then None. ``staff`` (a userid) narrows contact adds and deletions, ``code`` (an id,
    or None with ``no_code``) contact adds, ``group`` (a chat_id) group joins and leaves. ``entered`` and
    ``lost`` are answered by ``moves``, the dashboard summaries' index of moves (a port the app wires).
    """

    kind: str
    start: datetime | None
    end: datetime
    staff: str | None = None
    code: int | None = None
    no_code: bool = False
    group: str | None = None
    first_day: date | None = None  # the days start and end bound, for the moves index
    last_day: date | None = None
    moves: Any = field(default=None, compare=False)  # activity.MovesIndex: entered and lost are read from it


@dataclass(frozen=True)
class CustomerFilter:
    """Listing filters; every set field narrows the result (AND)."""

    identity_lookup: str | None = None  # blind index of the normalised identity value
    name_lookup: str | None = None  # blind index of the normalised name
    owner: str | None = None  # staff userid with an active follow relation
    tag: str | None = None  # tag name currently held
    channel_code: int | None = None  # added through this channel code (ever)
    group: str | None = None  # chat_id of a group the customer is in now
    source: str | None = None  # first-touch source platform (NONE: none recorded)
    added_from: datetime | None = None  # first_seen_at >= added_from
    added_to: datetime | None = None  # first_seen_at < added_to
    activity: ActivityFilter | None = None


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Source(_Out):
    platform: str | None
    channel_code_id: int | None


class CustomerSummary(_Out):
    """One row of the customer listing (the name is always masked here)."""

    id: int
    name: str | None
    gender: str
    region: str | None
    city: str | None
    source: Source
    first_seen_at: datetime


class CustomerPage(_Out):
    items: list[CustomerSummary]
    next_cursor: int | None = Field(description="Pass as ?cursor= for the next page; null at the end.")


class IdentityOut(_Out):
    id: int
    kind: str
    value: str
    masked: bool
    created_at: datetime


class OwnerOut(_Out):
    """An active follow relation (one per staff member: the earliest)."""

    staff_userid: str
    staff_name: str
    channel_code_id: int | None
    added_at: datetime


class ConsentOut(_Out):
    """The latest consent fact for one channel and purpose."""

    channel: str
    purpose: str
    granted: bool
    recorded_at: datetime
    source: str


class GroupOut(_Out):
    chat_id: str
    name: str
    joined_at: datetime


class OrderSummaryOut(_Out):
    count: int
    paid_count: int
    paid_total: str = Field(description="Sum of paid orders net of refunds, yuan as a Decimal string.")
    refunded_total: str
    first_order_at: datetime | None
    last_order_at: datetime | None


class CustomerDetail(_Out):
    """The customer profile with identities, owners, tags, groups and order summary.

    A merged (tombstone) id answers with its live survivor: ``id`` is the survivor,
    ``requested_id`` the id asked for and ``merged_into`` the survivor (null when not merged).
    """

    id: int
    requested_id: int
    merged_into: int | None
    pii: Literal["revealed", "masked"]
    name: str | None
    gender: str
    birthday: date | None
    region: str | None
    city: str | None
    attributes: dict[str, Any]
    source: Source
    first_seen_at: datetime
    created_at: datetime
    updated_at: datetime
    identities: list[IdentityOut]
    owners: list[OwnerOut]
    tags: list[str] = Field(description="Names of the tags held now, sorted.")
    groups: list[GroupOut]
    orders: OrderSummaryOut
    consents: list[ConsentOut] = Field(default_factory=list, description="Current consent per channel and purpose.")


class TimelineItem(_Out):
    """An event (``kind`` = event) or an order state (``kind`` = order) of any of the customer's identities."""

    kind: Literal["event", "order"]
    id: int
    at: datetime
    identity_id: int
    type: str = Field(description="Event type, or the order state (created, paid, refunded …).")
    channel: str | None
    event_id: str | None = None
    properties: dict[str, Any] | None = None
    order_id: str | None = None
    amount: str | None = Field(default=None, description="Order amount, or the refunded amount, in yuan.")
    store: str | None = None


class OrderOut(_Out):
    """One order's current state; money in yuan as Decimal strings."""

    order_id: str
    status: str
    amount: str
    refunded: str
    placed_at: datetime
    channel: str | None
    store: str | None


class LineOut(_Out):
    """One line: an order's, or one a later fact named (a refunded item)."""

    sku: str
    name: str | None
    category: str | None
    quantity: int
    unit_price: str
    amount: str


class OrderStateOut(_Out):
    """One state in an order's history."""

    status: str
    refund_id: str | None
    amount: str = Field(description="The order amount, or for a refund the amount refunded, in yuan.")
    occurred_at: datetime
    received_at: datetime
    lines: list[LineOut] = Field(description="Lines this state named (a partial refund's items); usually empty.")


class OrderDetailOut(OrderOut):
    """One order of a customer with its lines and whole history."""

    customer_id: int
    identity_id: int
    currency: str
    paid_at: datetime | None
    updated_at: datetime
    lines: list[LineOut]
    history: list[OrderStateOut]


class NoteOut(_Out):
    """A follow-up note (跟进记录)."""

    id: int
    method: str = Field(description="chat | call | visit | other")
    body: str
    author: str = Field(description="Who wrote it: user:<username>.")
    created_at: datetime


class TimelinePage(_Out):
    customer_id: int
    items: list[TimelineItem]
    next_before: str | None = Field(description="Pass as ?before= for older items; null at the end.")


class ProfileUpdate(BaseModel):
    """Fields to change; omitted fields stay, null clears, ``attributes`` merges (null value deletes a key)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    gender: str | None = None
    birthday: date | None = None
    region: str | None = None
    city: str | None = None
    attributes: dict[str, Any] | None = None

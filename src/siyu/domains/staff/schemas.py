"""API shapes for staff members, departures and transfers.

Request bodies refer to staff by WeCom ``userid`` (what integrators and operators know); paths use
the numeric id. Unknown fields are refused (422) so a typo never passes silently.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StaffCreate(_In):
    userid: str = Field(min_length=1, max_length=64, description="WeCom userid")
    name: str = Field(min_length=1, max_length=64)
    department: str | None = Field(default=None, max_length=64)
    store: str | None = Field(default=None, max_length=64)


class StaffUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    department: str | None = Field(default=None, max_length=64)
    store: str | None = Field(default=None, max_length=64)


class DepartIn(_In):
    inherit_to: str | None = Field(default=None, description="userid of the colleague who inherits the customers")


class TransferIn(_In):
    from_userid: str = Field(min_length=1, max_length=64)
    to_userid: str = Field(min_length=1, max_length=64)
    identity_ids: list[int] | None = Field(
        default=None, min_length=1, max_length=10000,
        description="identities (of the chosen customers) to move; omit with all=true to move everyone")
    all: bool = Field(default=False, description="move every active relation of from_userid")


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    userid: str
    name: str
    department: str | None
    store: str | None
    status: str
    departed_at: datetime | None
    created_at: datetime


class StaffPage(BaseModel):
    items: list[StaffOut]
    next_cursor: int | None


class TransferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_staff_id: int
    to_staff_id: int
    reason: str
    customers: int
    actor: str
    created_at: datetime


class DepartureOut(BaseModel):
    staff: StaffOut
    transfer: TransferOut | None


class BehaviorDayIn(_In):
    """One day of WeCom's ``behavior_data``, as ``externalcontact/get_user_behavior_data`` answers it."""

    stat_time: int = Field(ge=0, le=4_102_444_800, description="Epoch seconds of the day's start (00:00 in SIYU_TIMEZONE)")
    chat_cnt: int = Field(ge=0, le=10_000_000)
    message_cnt: int = Field(ge=0, le=100_000_000)
    reply_percentage: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=2,
                                             description="Absent on days without customer-started chats")
    avg_reply_time: int | None = Field(default=None, ge=0, le=1_000_000,
                                       description="Minutes to the first reply; absent on days without replies")
    negative_feedback_cnt: int = Field(default=0, ge=0, le=10_000_000)
    new_apply_cnt: int = Field(default=0, ge=0, le=10_000_000)
    new_contact_cnt: int = Field(default=0, ge=0, le=10_000_000)


class BehaviorIn(_In):
    """A staff member's statistics: WeCom's answer with the member's ``userid`` added."""

    userid: str = Field(min_length=1, max_length=64, description="WeCom userid of the staff member")
    behavior_data: list[BehaviorDayIn] = Field(min_length=1, max_length=366)
    errcode: int | None = Field(default=None, description="WeCom's errcode, if the answer is forwarded as it came")
    errmsg: str | None = Field(default=None, max_length=500)


class BehaviorOut(BaseModel):
    userid: str
    days: int = Field(description="Days stored")
    replaced: int = Field(description="Of those, days that replaced statistics stored before")

"""API shapes for staff members, departures and transfers.

Request bodies refer to staff by WeCom ``userid`` (what integrators and operators know); paths use
the numeric id. Unknown fields are refused (422) so a typo never passes silently.
"""

from __future__ import annotations

from datetime import datetime

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

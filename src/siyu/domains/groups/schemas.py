"""API shapes for customer groups and their members."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class GroupOut(BaseModel):
    id: int
    chat_id: str
    name: str
    owner_staff_id: int | None
    members: int
    created_at: datetime
    dissolved_at: datetime | None


class GroupPage(BaseModel):
    items: list[GroupOut]
    next_cursor: int | None


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    identity_id: int
    joined_at: datetime
    left_at: datetime | None
    join_event_id: str | None


class MemberPage(BaseModel):
    items: list[MemberOut]
    next_cursor: int | None

"""API shapes of mass messages (/api/v1/mass-messages). Unknown fields are refused (422)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Channel = Literal["wecom", "wecom_group", "sms", "email"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Audience(_Strict):
    """Exactly one of a segment (id or name), customer groups, or staff members (their customers)."""

    segment: int | str | None = None
    groups: list[int] | None = Field(default=None, min_length=1, max_length=500)
    staff: list[int] | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one(self) -> Audience:
        if sum(x is not None for x in (self.segment, self.groups, self.staff)) != 1:
            raise ValueError("give exactly one of segment, groups and staff")
        return self


class MassIn(_Strict):
    """A new mass message (a draft, or scheduled when ``send_at`` is given)."""

    name: str = Field(min_length=1, max_length=120)
    audience: Audience
    channel: Channel = "wecom"
    content_id: int | None = None
    collection: str | None = Field(default=None, min_length=1, max_length=80,
                                   description="Smart push: each customer gets their best item of this collection.")
    variant: str | None = Field(default=None, max_length=32)
    send_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MassIn:
        if (self.audience.groups is not None) != (self.channel == "wecom_group"):
            raise ValueError("groups are sent on channel wecom_group, and wecom_group sends only to groups")
        if (self.content_id is None) == (self.collection is None):
            raise ValueError("give exactly one of content_id and collection")
        if self.collection is not None and (self.variant is not None or self.audience.groups is not None):
            raise ValueError("a collection is chosen per customer: no variant, and not for groups")
        return self


class ScheduleIn(_Strict):
    send_at: AwareDatetime


class MassOut(BaseModel):
    id: int
    name: str
    audience: dict[str, object]
    channel: str
    content_id: int | None
    collection: str | None
    variant: str | None
    send_at: datetime | None
    status: str
    recipients: int | None
    skipped: int | None
    tasks: int | None
    created_by: str
    created_at: datetime
    sent_at: datetime | None


class MassList(BaseModel):
    items: list[MassOut]


class PreviewOut(BaseModel):
    audience: int
    groups: int
    eligible: int
    excluded: dict[str, int]
    held: int = Field(default=0, description="Eligible recipients inside quiet hours at the send time.")
    held_until: datetime | None = Field(default=None, description="When the last of those holds ends (UTC).")
    by_staff: dict[str, int]
    sample: list[int]
    note: str

"""API shapes for segments: definitions with freshness, previews, members and stays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from siyu.domains.customers import CustomerSummary


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique, 1-80 characters.")
    description: str = ""
    rule: dict[str, Any] = Field(description="A condition of the rule language (docs/segments.md).")


class SegmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    rule: dict[str, Any] | None = None


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any]
    sample: int = Field(20, ge=0, le=100)


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    rule: dict[str, Any]
    members: int = Field(description="Customers in the segment now (as of the last evaluation).")
    refreshed_at: datetime | None = Field(description="Last evaluation of every customer.")
    touched_at: datetime | None = Field(description="Last incremental evaluation (customers whose facts arrived).")
    created_by: str
    created_at: datetime
    updated_at: datetime


class SegmentList(BaseModel):
    items: list[SegmentOut]


class PreviewOut(BaseModel):
    count: int
    sample: list[CustomerSummary]
    ms: float


class MemberOut(BaseModel):
    customer: CustomerSummary
    entered_at: datetime


class MemberPage(BaseModel):
    items: list[MemberOut]
    next_cursor: int | None


class StayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    entered_at: datetime
    exited_at: datetime | None


class StayPage(BaseModel):
    items: list[StayOut]
    next_cursor: int | None


class RefreshOut(BaseModel):
    entered: int
    exited: int


class TagSegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str


class TagSegmentOut(BaseModel):
    added: int

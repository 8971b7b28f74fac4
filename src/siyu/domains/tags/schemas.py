"""API shapes for tags, tag groups, rule tags, holds and interests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    group: str = "默认"


class RuleTagIn(TagIn):
    rule: dict[str, Any] = Field(description="A condition of the segment rule language (docs/segments.md).")


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any]


class TagPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str


class TagOut(BaseModel):
    id: int
    name: str
    group: str
    kind: str
    holders: int = Field(description="Customers holding it now.")
    rule: dict[str, Any] | None = None
    refreshed_at: datetime | None = None


class TagList(BaseModel):
    items: list[TagOut]


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    exclusive: bool = False


class GroupPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


class GroupOut(BaseModel):
    name: str
    exclusive: bool
    tags: int


class GroupList(BaseModel):
    items: list[GroupOut]


class CustomersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_ids: list[int] = Field(min_length=1, max_length=1000)


class CountOut(BaseModel):
    changed: int


class HoldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    source: str
    added_at: datetime
    removed_at: datetime | None


class HoldList(BaseModel):
    items: list[HoldOut]


class InterestOut(BaseModel):
    topic: str
    score: float
    computed_at: datetime


class InterestList(BaseModel):
    customer_id: int
    items: list[InterestOut]

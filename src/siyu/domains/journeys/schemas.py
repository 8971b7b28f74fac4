"""API shapes for journeys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JourneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    definition: dict[str, Any] | None = Field(default=None, description="The definition (docs/journeys.md).")
    template: str | None = Field(default=None, description="Start from a template instead of a definition.")


class DefinitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any]


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_ids: list[int] = Field(min_length=1, max_length=10_000)


class MigrateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_version: int


class JourneyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    status: str
    trigger_type: str
    current_version: int
    activated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class JourneyDetail(JourneyOut):
    definition: dict[str, Any]
    active: int = Field(description="Enrolments still running, all versions.")


class JourneyList(BaseModel):
    items: list[JourneyOut]


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    published: bool
    created_by: str
    created_at: datetime
    definition: dict[str, Any]


class VersionList(BaseModel):
    items: list[VersionOut]


class ValidOut(BaseModel):
    valid: bool
    steps: int
    trigger: str


class CountOut(BaseModel):
    step: str
    type: str
    entered: int
    waiting: int
    done: int
    failed: int
    exited: int


class CountList(BaseModel):
    version: int
    items: list[CountOut]


class Rate(BaseModel):
    converted: int
    enrolled: int
    low: float | None = None
    high: float | None = None


class ConversionOut(BaseModel):
    goal: str | None
    treatment: Rate
    holdout: Rate
    lift_low: float | None = Field(None, description="95% interval of treatment − holdout rate (Newcombe).")
    lift_high: float | None = None


class EnrolOut(BaseModel):
    entered: int


class MigrateOut(BaseModel):
    moved: int


class TemplateOut(BaseModel):
    name: str
    description: str
    definition: dict[str, Any]


class TemplateList(BaseModel):
    items: list[TemplateOut]


class TraceList(BaseModel):
    items: list[dict[str, Any]]

"""API shapes for staff tasks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = ""
    staff_id: int | None = None
    customer_id: int | None = None
    due_at: datetime | None = None
    idempotency_key: str | None = Field(default=None, max_length=120,
                                        description="Replaying a request with the same key creates nothing new.")


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_id: int | None
    customer_id: int | None
    title: str
    body: str
    due_at: datetime | None
    status: str
    source: str
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None


class TaskList(BaseModel):
    items: list[TaskOut]
    next_cursor: int | None
    counts: dict[str, int] = Field(description="Tasks per status for the same staff scope.")

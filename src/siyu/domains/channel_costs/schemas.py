"""API shapes of channel costs (amounts in yuan as decimal strings)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field


class CostIn(BaseModel):
    """A cost to record: what a channel code cost over some brand days."""

    channel_code_id: int
    first_day: date
    last_day: date
    amount: Decimal = Field(description="Yuan, at most two decimals, above zero (e.g. \"1200.00\").")
    note: str | None = Field(None, max_length=200)


class CostOut(BaseModel):
    """A stored cost."""

    id: int
    channel_code_id: int
    channel_code: str
    first_day: date
    last_day: date
    amount: Decimal
    note: str | None
    created_by: str


class CostList(BaseModel):
    """Costs covering at least a day of the period asked for."""

    items: list[CostOut]

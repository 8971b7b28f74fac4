"""API shapes of the funnel, GMV, repurchase, value, attribution and staff analyses (the CLI's JSON is the same)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class FunnelParamsOut(BaseModel):
    steps: list[dict[str, Any]] = Field(description="The steps as JSON that can be sent back as `steps`.")
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    window_seconds: int
    mode: str
    breakdown: str | None
    engine: str


class FunnelStepOut(BaseModel):
    step: int
    label: str
    customers: int
    conversion_from_previous: float | None = Field(description="customers ÷ the previous step's (None at step 1).")
    conversion_from_first: float | None
    median_seconds_from_previous: int | None = Field(description="Lower median of the seconds from the previous step.")
    median_seconds_from_entry: int | None


class FunnelGroupOut(BaseModel):
    value: str | None = Field(description="Channel code id, staff id or platform; null for none.")
    label: str
    steps: list[FunnelStepOut]


class FunnelOut(BaseModel):
    """Customers reaching each step, overall and per breakdown value."""

    params: FunnelParamsOut
    steps: list[FunnelStepOut]
    breakdown: list[FunnelGroupOut] | None = None


class DroppedCustomerOut(BaseModel):
    customer_id: int
    entered_at: datetime
    last_step_at: datetime


class FunnelDroppedOut(BaseModel):
    """Customers whose best run reached ``step`` - 1 but not ``step``."""

    step: int
    total: int
    customers: list[DroppedCustomerOut]
    next_offset: int | None


class FunnelSegmentOut(BaseModel):
    """The segment made of the customers who dropped at a step (held through a manual tag)."""

    segment_id: int
    name: str
    tag: str
    customers: int


class GmvPeriodOut(BaseModel):
    start: date
    end: date
    traffic: int
    entered: int
    buyers: int
    orders: int
    gmv: Decimal
    entry_rate: Decimal | None
    conversion: Decimal | None
    aov: Decimal | None = Field(description="GMV per buyer (客单价), yuan.")


class GmvPartOut(BaseModel):
    factor: str
    amount: Decimal = Field(description="Yuan of the change attributed to the factor; the parts sum to `change`.")


class GmvOut(BaseModel):
    """Both periods' factors and the change of GMV attributed to each (LMDI)."""

    engine: str
    method: str = Field(description="lmdi, or zero_period_limit when a period has no sales.")
    base: GmvPeriodOut
    current: GmvPeriodOut
    change: Decimal
    parts: list[GmvPartOut]


class RepurchaseCohortOut(BaseModel):
    cohort: date
    customers: int
    repurchased: int
    rate: float | None
    median_days_to_repurchase: int | None
    median_gap_days: int | None


class GapBucketOut(BaseModel):
    from_days: int
    to_days: int | None
    gaps: int


class RepurchaseOut(BaseModel):
    """Repurchase per cohort of first purchase, the distribution of gaps and the period's rate."""

    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    unit: str
    within_days: int
    engine: str
    cohorts: list[RepurchaseCohortOut]
    distribution: list[GapBucketOut]
    median_gap_days: int | None
    period_buyers: int
    period_repeat_buyers: int
    period_rate: float | None


class ValueRowOut(BaseModel):
    key: str | None = Field(description="The cohort's first day, or the channel code id (null: none).")
    label: str
    customers: int
    buyers: int
    orders: int
    revenue: Decimal
    value_per_customer: Decimal | None
    value_per_buyer: Decimal | None


class ValueOut(BaseModel):
    """Per-customer value by cohort and by acquiring channel code."""

    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    as_of: date
    cohort_by: str
    unit: str
    engine: str
    cohorts: list[ValueRowOut]
    channels: list[ValueRowOut]


class AttributionRowOut(BaseModel):
    channel_code_id: int
    channel_code: str
    acquired: int
    complete: int = Field(description="Acquired customers whose N days had ended.")
    buyers: int
    orders: int
    revenue: Decimal
    cost: Decimal | None = Field(description="Costs entered for the code, prorated to the period; null if none.")
    cost_per_customer: Decimal | None
    roi: float | None = Field(description="(revenue − cost) ÷ cost.")


class AttributionOut(BaseModel):
    """Customers acquired per channel code and their revenue within N days."""

    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    days: int
    engine: str
    channels: list[AttributionRowOut]


class StaffRowOut(BaseModel):
    staff_id: int
    name: str
    owned: int
    added: int
    converted: int
    conversion: float | None
    orders: int
    revenue: Decimal
    chats: int | None
    reply_rate: Decimal | None = Field(description="Percent, from WeCom's daily statistics.")
    avg_reply_minutes: Decimal | None


class StaffPerformanceOut(BaseModel):
    """Per staff member over a period."""

    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    within_days: int
    engine: str
    staff: list[StaffRowOut]

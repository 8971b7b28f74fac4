"""API shapes of the stored scores: one customer's, a staff member's work lists, and the runs (freshness)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from siyu.domains.scores.service import AttentionList


class ScoreOut(BaseModel):
    """What the last write-back says about one customer (money in yuan as decimal strings)."""

    model_config = ConfigDict(from_attributes=True)

    customer_id: int
    as_of: datetime = Field(description="The instant the scores describe: the end of the as-of day (brand's zone).")
    computed_at: datetime
    rfm_r: int | None = None
    rfm_f: int | None = None
    rfm_m: int | None = None
    rfm_segment: str | None = None
    aipl_stage: str | None = None
    lifecycle_tier: str | None = None
    clv: Decimal | None = Field(default=None, description="Expected discounted spend over the CLV horizon (yuan).")
    expected_purchases: float | None = None
    p_alive: float | None = None
    expected_spend: Decimal | None = Field(default=None, description="Expected value of one purchase (yuan).")
    repeat_purchases: int | None = None
    days_since_last: int | None = None
    usual_gap_days: float | None = None
    p_alive_prev: float | None = Field(default=None, description="P(alive) as of the comparison day, same fit.")
    alive_falling: bool = False
    overdue: bool = False
    value_at_stake: Decimal | None = None
    intent_days: int = 0
    open_order: bool = False
    last_signal_at: datetime | None = None
    intent_value: Decimal | None = None


class AttentionItem(ScoreOut):
    """A customer on a staff member's list, with the masked name to greet them by."""

    name_masked: str | None = None


class AttentionOut(BaseModel):
    """A staff member's customers to act on today: at risk of churning or of high purchase intent."""

    staff_userid: str
    staff_name: str
    kind: Literal["at_risk", "high_intent"]
    total: int = Field(description="How many of the staff member's customers are on this list.")
    as_of: date | None = Field(default=None, description="The scoring day the list comes from (none: never scored).")
    computed_at: datetime | None = None
    items: list[AttentionItem]


class RunOut(BaseModel):
    """One write-back of the scores."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    as_of: date
    trigger: str
    status: str
    engine: str | None
    started_at: datetime
    finished_at: datetime | None
    customers: int
    seconds: float | None
    detail: dict[str, object]
    error: str | None


class RunsOut(BaseModel):
    """How fresh the scores are: the newest successful run, and the newest runs of any status."""

    latest_ok: RunOut | None
    runs: list[RunOut]


def attention_out(found: AttentionList) -> AttentionOut:
    """Return the API shape of a staff member's ranked list."""
    items = [AttentionItem.model_validate({**ScoreOut.model_validate(score).model_dump(), "name_masked": name})
             for score, name in found.rows]
    return AttentionOut(staff_userid=found.staff.userid, staff_name=found.staff.name, kind=found.kind,
                        total=found.total, as_of=found.run.as_of if found.run else None,
                        computed_at=found.run.finished_at if found.run else None, items=items)

"""API shapes of the analyses (the CLI's JSON output has the same shape)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from siyu.analytics import aipl, lifecycle, retention, rfm


class RfmParamsOut(BaseModel):
    as_of: date
    window_days: int
    scoring: Literal["quintiles", "thresholds"]
    engine: str


class RfmSegmentOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    customers: int
    monetary_fen: int = Field(description="The segment's customers' monetary values (net spend in the window), summed.")


class RfmCellOut(BaseModel):
    r: int
    f: int
    m: int
    customers: int


class RfmFlowOut(BaseModel):
    from_: str = Field(alias="from", description="Segment code at the earlier date, or 'none'.")
    to: str = Field(description="Segment code at the later date, or 'none'.")
    customers: int

    model_config = {"populate_by_name": True}


class RfmMigrationOut(BaseModel):
    from_as_of: date
    flows: list[RfmFlowOut]


class RfmOut(BaseModel):
    """RFM as of a date: the eight segments, the score grid, and optionally the moves since an earlier date."""

    params: RfmParamsOut
    customers: int = Field(description="Scored buyers: customers who paid at least one order in the window.")
    mean_scores: dict[str, float]
    segments: list[RfmSegmentOut]
    grid: list[RfmCellOut]
    migration: RfmMigrationOut | None = None


def rfm_out(result: rfm.RfmResult, earlier: rfm.RfmParams | None = None,
            flows: dict[tuple[str, str], int] | None = None) -> RfmOut:
    """Return the API shape of an RFM result (and of the flows since ``earlier``)."""
    names = {code: (zh, en) for code, zh, en in rfm.SEGMENTS.values()}
    migration = None
    if earlier is not None:
        migration = RfmMigrationOut(from_as_of=earlier.as_of, flows=[
            RfmFlowOut(from_=a, to=b, customers=n) for (a, b), n in sorted((flows or {}).items(), key=lambda kv: -kv[1])])
    return RfmOut(
        params=RfmParamsOut(as_of=result.params.as_of, window_days=result.params.window_days,
                            scoring="thresholds" if result.params.thresholds else "quintiles", engine=result.engine),
        customers=result.customers, mean_scores=result.means,
        segments=[RfmSegmentOut(code=code, name_zh=names[code][0], name_en=names[code][1], customers=n,
                                monetary_fen=result.spend_fen.get(code, 0))
                  for code, n in result.segments.items()],
        grid=[RfmCellOut(r=r, f=f, m=m, customers=n) for (r, f, m), n in sorted(result.grid.items())],
        migration=migration)


class TierOut(BaseModel):
    tier: str
    name_zh: str
    name_en: str
    customers: int


class LifecycleOut(BaseModel):
    """Buyers per lifecycle tier as of a day, and the window's buyers as new or returning."""

    as_of: date
    window_days: int
    engine: str
    tiers: list[TierOut]
    new_buyers: int = Field(description="Paid in the window, never before it.")
    returning_buyers: int = Field(description="Paid in the window and before it.")


def lifecycle_out(result: lifecycle.LifecycleResult) -> LifecycleOut:
    """Return the API shape of a lifecycle result."""
    return LifecycleOut(as_of=result.params.as_of, window_days=result.params.window_days, engine=result.engine,
                        tiers=[TierOut(tier=r.tier, name_zh=r.name_zh, name_en=r.name_en, customers=result.tiers[r.tier])
                               for r in result.rules],
                        new_buyers=result.new_buyers, returning_buyers=result.returning_buyers)


class StageOut(BaseModel):
    stage: str
    name_zh: str
    name_en: str
    customers: int


class AiplOut(BaseModel):
    """Customers per AIPL stage as of a day, and optionally the moves since an earlier day."""

    as_of: date
    window_days: int
    engine: str
    stages: list[StageOut]
    compare_to: date | None = None
    flows: list[RfmFlowOut] | None = Field(default=None, description="Moves between stages ('none': no stage then).")


def aipl_out(params: rfm.RfmParams, engine: str, stages: dict[str, int], earlier: rfm.RfmParams | None = None,
             flows: dict[tuple[str, str], int] | None = None) -> AiplOut:
    """Return the API shape of an AIPL distribution (and flows)."""
    return AiplOut(
        as_of=params.as_of, window_days=params.window_days, engine=engine,
        stages=[StageOut(stage=s, name_zh=aipl.NAMES[s][0], name_en=aipl.NAMES[s][1], customers=stages[s])
                for s in aipl.STAGES],
        compare_to=earlier.as_of if earlier else None,
        flows=None if flows is None else [RfmFlowOut(from_=a, to=b, customers=n)
                                          for (a, b), n in sorted(flows.items(), key=lambda kv: -kv[1])])


class CohortOut(BaseModel):
    cohort: date = Field(description="First day of the cohort's period.")
    size: int
    retained: list[int] = Field(description="Customers active in the cohort's period + 0, 1, 2 …")


class RetentionOut(BaseModel):
    """The retention triangle."""

    start: date
    end: date
    unit: str
    periods: int
    cohort_by: str
    activity: list[str] = Field(description="Event types that count as coming back; empty: a paid order.")
    mode: str
    engine: str
    cohorts: list[CohortOut]


def retention_out(result: retention.RetentionResult) -> RetentionOut:
    """Return the API shape of a retention result."""
    p = result.params
    return RetentionOut(start=p.start, end=p.end, unit=p.unit, periods=p.periods, cohort_by=p.cohort_by,
                        activity=list(p.activity), mode=p.mode, engine=result.engine,
                        cohorts=[CohortOut(**c) for c in result.cohorts])

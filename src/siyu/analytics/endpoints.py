"""Analysis API: RFM, lifecycle tiers, AIPL, retention, CLV, the holdout report and the scores write-back
(the definitions of `siyu analyze`, docs/analytics.md and docs/clv.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from siyu.analytics import aipl, customer_value, lifecycle, retention, rfm, scores
from siyu.analytics.clv_schemas import ClvOut, HoldoutOut, ScoresRunOut, clv_out, holdout_out, scores_out, top_indices
from siyu.analytics.engines import Facts, open_facts
from siyu.analytics.schemas import (AiplOut, LifecycleOut, RetentionOut, RfmOut, aipl_out, lifecycle_out,
                                    retention_out, rfm_out)
from siyu.domains.access import Principal
from siyu.domains.access.deps import require_reader, require_scope
from siyu.config import Settings
from siyu.errors import Forbidden

router = APIRouter(prefix="/analytics", tags=["analytics"])


def _analyst(principal: Principal = Depends(require_reader)) -> Principal:
    if principal.scoped_staff_id is not None:
        raise Forbidden("analyses cover every customer; staff users see only their own", code="forbidden_role")
    return principal


def _params(request: Request, as_of: date, window_days: int,
            compare_to: date | None) -> tuple[Settings, rfm.RfmParams, rfm.RfmParams | None]:
    """Return the settings and the checked parameters of an analysis (and of its earlier date)."""
    settings: Settings = request.app.state.settings
    today = datetime.now(settings.tz).date()
    params = rfm.RfmParams(as_of=as_of, window_days=window_days)
    params.check(today)
    earlier = rfm.RfmParams(as_of=compare_to, window_days=window_days) if compare_to else None
    if earlier:
        earlier.check(today)
    return settings, params, earlier


def _facts(request: Request) -> Facts:
    settings = request.app.state.settings
    return open_facts(request.app.state.engine, settings.data_dir, master=settings.spark_master)


@router.get("/rfm", response_model=RfmOut, response_model_by_alias=True)
def get_rfm(request: Request, as_of: date = Query(..., description="Last day of the window (brand's calendar)."),
            window_days: int = Query(365, description="Days in the window, as-of day included (1–3660)."),
            compare_to: date | None = Query(None, description="Also count who moved between segments since this date."),
            _principal: Principal = Depends(_analyst)) -> RfmOut:
    """Score every buyer by recency, frequency and monetary value; count the eight segments (and the moves)."""
    settings, params, earlier = _params(request, as_of, window_days, compare_to)
    facts = _facts(request)
    try:
        result = rfm.compute(facts, params, settings.tz)
        flows = rfm.migration(facts, earlier, params, settings.tz) if earlier else None
    finally:
        facts.close()
    return rfm_out(result, earlier, flows)


@router.get("/lifecycle", response_model=LifecycleOut)
def get_lifecycle(request: Request, as_of: date = Query(..., description="The day to classify on (brand's calendar)."),
                  window_days: int = Query(365, description="Days counted for orders and spend (1–3660)."),
                  _principal: Principal = Depends(_analyst)) -> LifecycleOut:
    """Count buyers per lifecycle tier (default rules) and the window's new vs returning buyers."""
    settings, params, _none = _params(request, as_of, window_days, None)
    facts = _facts(request)
    try:
        return lifecycle_out(lifecycle.compute(facts, params, settings.tz))
    finally:
        facts.close()


@router.get("/aipl", response_model=AiplOut, response_model_by_alias=True, response_model_exclude_none=True)
def get_aipl(request: Request, as_of: date = Query(..., description="The day to stage on (brand's calendar)."),
             window_days: int = Query(90, description="Days of events and orders counted (1–3660)."),
             compare_to: date | None = Query(None, description="Also count the moves between stages since this date."),
             _principal: Principal = Depends(_analyst)) -> AiplOut:
    """Count customers per AIPL stage (default rules) and the moves between stages since ``compare_to``."""
    settings, params, earlier = _params(request, as_of, window_days, compare_to)
    facts = _facts(request)
    try:
        stages = aipl.distribution(facts, params, settings.tz)
        return aipl_out(params, facts.engine, stages, earlier,
                        aipl.flows(facts, earlier, params, settings.tz) if earlier else None)
    finally:
        facts.close()


@router.get("/retention", response_model=RetentionOut)
def get_retention(request: Request, start: date = Query(..., alias="from", description="First day whose cohort is reported."),
                  end: date = Query(..., alias="to", description="Last day counted."),
                  unit: Literal["day", "week", "month"] = Query("week"), periods: int = Query(12),
                  cohort_by: Literal["first_order", "joined"] = Query("first_order"),
                  activity: str = Query("", description="Comma-separated event types; default: a paid order."),
                  mode: Literal["first", "recurring"] = Query("first"),
                  _principal: Principal = Depends(_analyst)) -> RetentionOut:
    """Return the retention triangle: of each cohort, the customers active 0, 1, 2 … periods later."""
    settings: Settings = request.app.state.settings
    params = retention.RetentionParams(start, end, unit, periods, cohort_by,
                                       tuple(t.strip() for t in activity.split(",") if t.strip()), mode)
    params.check(datetime.now(settings.tz).date())
    facts = _facts(request)
    try:
        return retention_out(retention.compute(facts, params, settings.tz))
    finally:
        facts.close()


@router.get("/clv", response_model=ClvOut)
def get_clv(request: Request, as_of: date = Query(..., description="Fit on facts up to the end of this day."),
            time_unit: Literal["day", "week"] = Query("week", description="Unit of recency, age and alpha."),
            months: int = Query(12, description="CLV horizon in months (1–120)."),
            discount_rate: float = Query(0.12, description="Annual discount rate (0.12 = 12%)."),
            top: int = Query(20, ge=0, le=10_000, description="Buyers returned, highest CLV first (0 = all)."),
            customer_id: int | None = Query(None, description="Return only this buyer's values."),
            _principal: Principal = Depends(_analyst)) -> ClvOut:
    """Fit BG/NBD and Gamma-Gamma as of a day; return the parameters and buyers' expected purchases, P(alive), spend, CLV."""
    settings, params, _none = _params(request, as_of, 365, None)
    facts = _facts(request)
    try:
        values = customer_value.customer_values(facts, params.as_of, settings.tz, time_unit, months=months,
                                                annual_discount_rate=discount_rate)
    finally:
        facts.close()
    return clv_out(values, top_indices(values, top, customer_id))


@router.get("/clv/holdout", response_model=HoldoutOut)
def get_clv_holdout(request: Request, calibration_end: date = Query(..., description="Fit on facts up to this day."),
                    holdout_end: date = Query(..., description="Count purchases after the calibration up to this day."),
                    time_unit: Literal["day", "week"] = Query("week"),
                    _principal: Principal = Depends(_analyst)) -> HoldoutOut:
    """Return predicted against actual holdout purchases by calibration frequency (Fader-Hardie's figure)."""
    settings, params, later = _params(request, calibration_end, 365, holdout_end)
    facts = _facts(request)
    try:
        fitted, report = customer_value.holdout(facts, params.as_of, holdout_end, settings.tz, time_unit)
    finally:
        facts.close()
    return holdout_out(fitted, report, holdout_end)


@router.post("/scores", response_model=ScoresRunOut)
def post_scores(request: Request, as_of: date | None = Query(None, description="Score as of the end of this day "
                                                                                "(default: today, every fact so far)."),
                _principal: Principal = Depends(require_scope("admin"))) -> ScoresRunOut:
    """Compute every live customer's scores and replace customer_scores (seconds per 100k customers)."""
    settings: Settings = request.app.state.settings
    day = as_of or datetime.now(settings.tz).date()
    return scores_out(scores.write_back(request.app.state.engine, settings.data_dir, day, settings.tz, trigger="api",
                                        master=settings.spark_master))

"""Analysis API: RFM and lifecycle tiers (the same definitions as `siyu analyze`, see docs/analytics.md)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Depends, Query, Request

from siyu.analytics import lifecycle, rfm
from siyu.analytics.engines import open_facts
from siyu.analytics.schemas import LifecycleOut, RfmOut, lifecycle_out, rfm_out
from siyu.domains.access import Principal
from siyu.domains.access.deps import require_reader
from siyu.errors import Forbidden

router = APIRouter(prefix="/analytics", tags=["analytics"])


def _analyst(principal: Principal = Depends(require_reader)) -> Principal:
    if principal.scoped_staff_id is not None:
        raise Forbidden("analyses cover every customer; staff users see only their own", code="forbidden_role")
    return principal


@router.get("/rfm", response_model=RfmOut, response_model_by_alias=True)
def get_rfm(request: Request, as_of: date = Query(..., description="Last day of the window (brand's calendar)."),
            window_days: int = Query(365, description="Days in the window, as-of day included (1–3660)."),
            compare_to: date | None = Query(None, description="Also count who moved between segments since this date."),
            _principal: Principal = Depends(_analyst)) -> RfmOut:
    """Score every buyer by recency, frequency and monetary value; count the eight segments (and the moves)."""
    settings = request.app.state.settings
    params = rfm.RfmParams(as_of=as_of, window_days=window_days)
    today = datetime.now(settings.tz).date()
    params.check(today)
    earlier = rfm.RfmParams(as_of=compare_to, window_days=window_days) if compare_to else None
    if earlier:
        earlier.check(today)
    facts = open_facts(request.app.state.engine, settings.data_dir, master=settings.spark_master)
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
    settings = request.app.state.settings
    params = rfm.RfmParams(as_of=as_of, window_days=window_days)
    params.check(datetime.now(settings.tz).date())
    facts = open_facts(request.app.state.engine, settings.data_dir, master=settings.spark_master)
    try:
        return lifecycle_out(lifecycle.compute(facts, params, settings.tz))
    finally:
        facts.close()

"""Analysis API: funnels, GMV decomposition, repurchase, per-customer value, channel attribution and staff
performance (docs/analytics.md; the CLI's ``--format json`` prints the same shapes)."""

from __future__ import annotations

from datetime import date

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from siyu.analytics import attribution, cohort_value, gmv, repurchase, staff_performance
from siyu.analytics.funnel_spec import FunnelParams, InvalidFunnel, parse_steps, parse_window
from siyu.analytics.growth_reports import (Where, attribution_report, funnel_dropped, funnel_report, funnel_segment,
                                           gmv_report,
                                           repurchase_report, staff_report, value_report)
from siyu.analytics.growth_schemas import (AttributionOut, FunnelDroppedOut, FunnelOut, FunnelSegmentOut, GmvOut,
                                           RepurchaseOut,
                                           StaffPerformanceOut, ValueOut)
from siyu.domains.access import Principal
from siyu.domains.access.deps import require_reader
from siyu.errors import Forbidden

router = APIRouter(prefix="/analytics", tags=["analytics"])
FROM = Query(..., alias="from", description="First day (brand's calendar).")
TO = Query(..., alias="to", description="Last day, inclusive.")
STEPS = Query(..., description='Event types "content_viewed,contact_added,order" or JSON steps with property filters.')


def analyst(principal: Principal = Depends(require_reader)) -> Principal:
    """Demand a caller who may see analyses over every customer (not a staff user)."""
    if principal.scoped_staff_id is not None:
        raise Forbidden("analyses cover every customer; staff users see only their own", code="forbidden_role")
    return principal


def analyst_admin(principal: Principal = Depends(analyst)) -> Principal:
    """Demand an admin key (making a segment changes data)."""
    if not principal.has_scope("admin"):
        raise Forbidden("making a segment needs an API key with the 'admin' scope", code="insufficient_scope")
    return principal


def _where(request: Request) -> Where:
    return Where(request.app.state.engine, request.app.state.settings)


def _funnel(steps: str, start: date, end: date, window: str, mode: str, breakdown: str | None,
            segments: str = "") -> FunnelParams:
    try:
        ids = tuple(int(x) for x in segments.split(",") if x.strip())
    except ValueError as exc:
        raise InvalidFunnel(f"segments takes segment ids such as 3,7, got {segments!r}", field="segments") from exc
    return FunnelParams(parse_steps(steps), start, end, parse_window(window), mode, breakdown, ids)  # type: ignore[arg-type]


@router.get("/funnel", response_model=FunnelOut, response_model_by_alias=True)
def get_funnel(request: Request, steps: str = STEPS, start: date = FROM, end: date = TO,
               window: str = Query("7d", description="Conversion window from the entry: 7d, 36h, 90m."),
               mode: str = Query("ordered", description="ordered, strict or unordered."),
               breakdown: str | None = Query(None, description="channel_code, staff, platform or segment."),
               segments: str = Query("", description="With breakdown=segment: segment ids, comma-separated."),
               principal: Principal = Depends(analyst)) -> FunnelOut:
    """Count the customers reaching each step of a funnel, with conversion and median time to convert."""
    return funnel_report(_where(request), _funnel(steps, start, end, window, mode, breakdown, segments), principal)


@router.get("/funnel/dropped", response_model=FunnelDroppedOut)
def get_funnel_dropped(request: Request, steps: str = STEPS, start: date = FROM, end: date = TO,
                       step: int = Query(..., description="The step customers did not reach (2 … number of steps)."),
                       window: str = Query("7d"), mode: str = Query("ordered"),
                       limit: int = Query(100, ge=1, le=10000), offset: int = Query(0, ge=0),
                       _principal: Principal = Depends(analyst)) -> FunnelDroppedOut:
    """List the customers who reached the step before ``step`` but not ``step``."""
    return funnel_dropped(_where(request), _funnel(steps, start, end, window, mode, None), step, limit, offset)


class DroppedSegmentIn(BaseModel):
    """A funnel (as the GET parameters) and the step whose drop-outs become segment ``name``."""

    steps: str | list[dict[str, Any]]
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    window: str = "7d"
    mode: str = "ordered"
    step: int
    name: str = Field(min_length=1, max_length=64)


@router.post("/funnel/dropped/segment", response_model=FunnelSegmentOut, status_code=201)
def post_funnel_segment(request: Request, body: DroppedSegmentIn,
                        principal: Principal = Depends(analyst_admin)) -> FunnelSegmentOut:
    """Make the customers who dropped at ``step`` a segment (held by a manual tag of the same name)."""
    params = FunnelParams(parse_steps(body.steps), body.start, body.end, parse_window(body.window), body.mode,  # type: ignore[arg-type]
                          None)
    return funnel_segment(_where(request), params, body.step, body.name, principal.actor)


@router.get("/gmv", response_model=GmvOut)
def get_gmv(request: Request, start: date = FROM, end: date = TO,
            base_from: date | None = Query(None, description="Base period's first day (default: the period before)."),
            base_to: date | None = Query(None, description="Base period's last day."),
            entry_events: str = Query(",".join(gmv.ENTRY_EVENTS), description="Event types counted as entering."),
            _principal: Principal = Depends(analyst)) -> GmvOut:
    """Decompose GMV into traffic × entry rate × conversion × AOV and attribute the change to each factor."""
    if (base_from is None) != (base_to is None):
        raise gmv.InvalidGmv("give both base_from and base_to, or neither")
    base = gmv.Period(base_from, base_to) if base_from and base_to else None
    return gmv_report(_where(request), gmv.Period(start, end), base,
                      tuple(t.strip() for t in entry_events.split(",") if t.strip()))


@router.get("/repurchase", response_model=RepurchaseOut, response_model_by_alias=True)
def get_repurchase(request: Request, start: date = FROM, end: date = TO, unit: str = Query("month"),
                   within_days: int = Query(90), _principal: Principal = Depends(analyst)) -> RepurchaseOut:
    """Return repurchase per cohort of first purchase, the gap distribution and the period's repurchase rate."""
    return repurchase_report(_where(request), repurchase.RepurchaseParams(start, end, unit, within_days))  # type: ignore[arg-type]


@router.get("/value", response_model=ValueOut, response_model_by_alias=True)
def get_value(request: Request, start: date = FROM, end: date = TO, as_of: date | None = Query(None),
              cohort_by: str = Query("first_order"), unit: str = Query("month"),
              _principal: Principal = Depends(analyst)) -> ValueOut:
    """Return per-customer value by cohort and by acquiring channel code."""
    params = cohort_value.ValueParams(start, end, cohort_by, unit, as_of)  # type: ignore[arg-type]
    return value_report(_where(request), params)


@router.get("/attribution", response_model=AttributionOut, response_model_by_alias=True)
def get_attribution(request: Request, start: date = FROM, end: date = TO,
                    days: int = Query(30, description="Revenue within this many days of acquisition."),
                    _principal: Principal = Depends(analyst)) -> AttributionOut:
    """Return customers acquired per channel code, their revenue within N days and ROI where costs exist."""
    return attribution_report(_where(request), attribution.AttributionParams(start, end, days))


@router.get("/staff-performance", response_model=StaffPerformanceOut, response_model_by_alias=True)
def get_staff_performance(request: Request, start: date = FROM, end: date = TO, within_days: int = Query(30),
                          _principal: Principal = Depends(analyst)) -> StaffPerformanceOut:
    """Return each staff member's customers, sales, new-contact conversion and reply figures."""
    return staff_report(_where(request), staff_performance.StaffParams(start, end, within_days))

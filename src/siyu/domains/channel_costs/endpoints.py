"""HTTP: enter, list and delete channel costs (admin keys). Thin over the service."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_scope
from siyu.domains.channel_costs import service
from siyu.domains.channel_costs.schemas import CostIn, CostList, CostOut

router = APIRouter(prefix="/channel-costs", tags=["channel costs"])
admin = require_scope("admin")


@router.post("", response_model=CostOut, status_code=201)
def add_cost(body: CostIn, request: Request, session: Session = Depends(get_session, scope="function"),
             principal: Principal = Depends(admin)) -> CostOut:
    """Record what a channel code cost over some brand days."""
    today = datetime.now(request.app.state.settings.tz).date()
    view = service.add_cost(session, channel_code_id=body.channel_code_id, first_day=body.first_day,
                            last_day=body.last_day, amount=body.amount, note=body.note, actor=principal.actor,
                            today=today)
    return CostOut(**asdict(view))


@router.get("", response_model=CostList)
def list_costs(start: date | None = Query(None, alias="from", description="Costs covering this day or later."),
               end: date | None = Query(None, alias="to", description="Costs covering this day or earlier."),
               channel_code_id: int | None = None, session: Session = Depends(get_session, scope="function"),
               _: Principal = Depends(admin)) -> CostList:
    """List the costs covering at least a day of the period."""
    views = service.list_costs(session, first=start, last=end, channel_code_id=channel_code_id)
    return CostList(items=[CostOut(**asdict(v)) for v in views])


@router.delete("/{cost_id}", status_code=204)
def delete_cost(cost_id: int, session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(admin)) -> Response:
    """Delete a cost entry (a correction is a deletion and a new entry)."""
    service.delete_cost(session, cost_id, actor=principal.actor)
    return Response(status_code=204)

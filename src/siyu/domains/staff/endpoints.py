"""HTTP: staff members, departure (with inheritance) and in-service transfers. Thin over the service."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.staff import behavior, service
from siyu.domains.staff.schemas import (
    BehaviorIn,
    BehaviorOut,
    DepartIn,
    DepartureOut,
    StaffCreate,
    StaffOut,
    StaffPage,
    StaffUpdate,
    TransferIn,
    TransferOut,
)
from siyu.errors import ValidationFailed
from siyu.domains.access.deps import get_session, require_scope

router = APIRouter(prefix="/staff", tags=["staff"])
admin = require_scope("admin")
ingest = require_scope("ingest")


@router.get("", response_model=StaffPage)
def list_staff(status: str | None = None, store: str | None = None, cursor: int | None = None,
               limit: int = Query(50, ge=1, le=200), session: Session = Depends(get_session, scope="function"),
               _: Principal = Depends(admin)) -> StaffPage:
    """List staff members (keyset pagination by id)."""
    page = service.list_staff(session, status=status, store=store, after_id=cursor, limit=limit)
    return StaffPage(items=[StaffOut.model_validate(s) for s in page.items], next_cursor=page.next_cursor)


@router.post("", response_model=StaffOut, status_code=201)
def create_staff(body: StaffCreate, session: Session = Depends(get_session, scope="function"),
                 principal: Principal = Depends(admin)) -> StaffOut:
    """Create a staff member."""
    staff = service.create_staff(session, body.userid, body.name, department=body.department, store=body.store,
                                 actor=principal.actor)
    return StaffOut.model_validate(staff)


@router.post("/behavior", response_model=BehaviorOut)
def record_behavior(body: BehaviorIn, request: Request, session: Session = Depends(get_session, scope="function"),
                    _: Principal = Depends(ingest)) -> BehaviorOut:
    """Store a staff member's WeCom contact statistics per day (a day sent again replaces the stored one)."""
    if body.errcode:
        raise ValidationFailed(f"WeCom answered errcode {body.errcode} ({body.errmsg or 'no message'}); "
                               "send the statistics of a successful call", code="wecom_error")
    days = [behavior.BehaviorDay(**d.model_dump()) for d in body.behavior_data]
    done = behavior.record_behavior(session, body.userid, days, request.app.state.settings.tz)
    return BehaviorOut(userid=done.userid, days=done.days, replaced=done.replaced)


@router.get("/{staff_id}", response_model=StaffOut)
def get_staff(staff_id: int, session: Session = Depends(get_session, scope="function"), _: Principal = Depends(admin)) -> StaffOut:
    """Show one staff member."""
    return StaffOut.model_validate(service.get_staff(session, staff_id))


@router.patch("/{staff_id}", response_model=StaffOut)
def update_staff(staff_id: int, body: StaffUpdate, session: Session = Depends(get_session, scope="function"),
                 principal: Principal = Depends(admin)) -> StaffOut:
    """Change a staff member's name, department or store."""
    staff = service.update_staff(session, staff_id, name=body.name, department=body.department, store=body.store,
                                 actor=principal.actor)
    return StaffOut.model_validate(staff)


@router.post("/{staff_id}/depart", response_model=DepartureOut)
def depart(staff_id: int, body: DepartIn | None = Body(default=None), session: Session = Depends(get_session, scope="function"),
           principal: Principal = Depends(admin)) -> DepartureOut:
    """Mark a staff member departed; with inherit_to, hand all their customers to that colleague."""
    heir = service.staff_by_userid(session, body.inherit_to).id if body and body.inherit_to else None
    result = service.depart_staff(session, staff_id, inherit_to=heir, actor=principal.actor)
    return DepartureOut(staff=StaffOut.model_validate(result.staff),
                        transfer=TransferOut.model_validate(result.transfer) if result.transfer else None)


@router.post("/transfer", response_model=TransferOut, status_code=201)
def transfer(body: TransferIn, session: Session = Depends(get_session, scope="function"),
             principal: Principal = Depends(admin)) -> TransferOut:
    """Move chosen customers (or all, with all=true) from one staff member to another."""
    if (body.identity_ids is None) == (not body.all):
        raise ValidationFailed("give either identity_ids or all=true", code="transfer_scope")
    source = service.staff_by_userid(session, body.from_userid)
    target = service.staff_by_userid(session, body.to_userid)
    moved = service.transfer_customers(session, source.id, target.id, None if body.all else body.identity_ids,
                                       actor=principal.actor)
    return TransferOut.model_validate(moved)


@router.get("/transfers/recent", response_model=list[TransferOut])
def transfers(staff_id: int | None = None, limit: int = Query(50, ge=1, le=200),
              session: Session = Depends(get_session, scope="function"), _: Principal = Depends(admin)) -> list[TransferOut]:
    """List the newest transfers, optionally of one staff member."""
    return [TransferOut.model_validate(t) for t in service.recent_transfers(session, staff_id=staff_id, limit=limit)]

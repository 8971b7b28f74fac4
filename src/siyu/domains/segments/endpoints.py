"""HTTP: segments (/api/v1/segments). Thin over the service; staff users see only customers they follow.

Reading needs a reader (an admin-scoped key, or a user); defining, refreshing and tagging a segment
need an admin-scoped key or an admin or operator user. A bad rule answers 422 ``invalid_rule`` with
``details.errors``: each problem's JSON path, stable code and what is expected.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_editor, require_reader
from siyu.domains.customers.service import summary_view
from siyu.domains.segments import service
from siyu.domains.segments.schemas import (MemberOut, MemberPage, PreviewIn, PreviewOut, RefreshOut, SegmentIn,
                                           SegmentList, SegmentOut, SegmentPatch, StayOut, StayPage, TagSegmentIn,
                                           TagSegmentOut)

router = APIRouter(prefix="/segments", tags=["segments"])


def _tz(request: Request) -> ZoneInfo:
    return request.app.state.settings.tz


@router.get("", response_model=SegmentList)
def list_segments(session: Session = Depends(get_session, scope="function"),
                  _: Principal = Depends(require_reader)) -> SegmentList:
    """List segments with their size and freshness."""
    return SegmentList(items=[SegmentOut.model_validate(s) for s in service.list_segments(session)])


@router.post("", response_model=SegmentOut, status_code=201)
def create_segment(request: Request, body: SegmentIn = Body(...), session: Session = Depends(get_session, scope="function"),
                   principal: Principal = Depends(require_editor)) -> SegmentOut:
    """Create a segment; it is evaluated at once."""
    segment = service.create_segment(session, name=body.name, rule=body.rule, description=body.description,
                                     actor=principal.actor, tz=_tz(request))
    return SegmentOut.model_validate(segment)


@router.post("/preview", response_model=PreviewOut)
def preview(request: Request, body: PreviewIn = Body(...), session: Session = Depends(get_session, scope="function"),
            principal: Principal = Depends(require_reader)) -> PreviewOut:
    """Count the customers a rule selects now and show the newest few (nothing is stored)."""
    result = service.preview(session, body.rule, principal, _tz(request), sample=body.sample)
    return PreviewOut(count=result.count, sample=[summary_view(c) for c in result.sample], ms=result.ms)


@router.get("/{segment_id}", response_model=SegmentOut)
def get_segment(segment_id: int, session: Session = Depends(get_session, scope="function"),
                _: Principal = Depends(require_reader)) -> SegmentOut:
    """Show one segment."""
    return SegmentOut.model_validate(service.get_segment(session, segment_id))


@router.patch("/{segment_id}", response_model=SegmentOut)
def update_segment(segment_id: int, request: Request, body: SegmentPatch = Body(...),
                   session: Session = Depends(get_session, scope="function"),
                   principal: Principal = Depends(require_editor)) -> SegmentOut:
    """Rename a segment, describe it, or change its rule (re-evaluated at once with what reads it)."""
    segment = service.update_segment(session, segment_id, actor=principal.actor, tz=_tz(request), name=body.name,
                                     rule=body.rule, description=body.description)
    return SegmentOut.model_validate(segment)


@router.post("/{segment_id}/refresh", response_model=RefreshOut)
def refresh(segment_id: int, request: Request, session: Session = Depends(get_session, scope="function"),
            _: Principal = Depends(require_editor)) -> RefreshOut:
    """Evaluate a segment over every customer now."""
    entered, exited = service.refresh_segment(session, segment_id, _tz(request))
    return RefreshOut(entered=entered, exited=exited)


@router.get("/{segment_id}/members", response_model=MemberPage)
def members(segment_id: int, cursor: int | None = None, limit: int = Query(50, ge=1, le=200),
            session: Session = Depends(get_session, scope="function"),
            principal: Principal = Depends(require_reader)) -> MemberPage:
    """List the segment's current members, newest customer first."""
    page = service.members(session, segment_id, principal, cursor=cursor, limit=limit)
    return MemberPage(items=[MemberOut(customer=summary_view(c), entered_at=at) for c, at in page.items],
                      next_cursor=page.next_cursor)


@router.get("/{segment_id}/history", response_model=StayPage)
def history(segment_id: int, customer_id: int | None = None, cursor: int | None = None,
            limit: int = Query(50, ge=1, le=200), session: Session = Depends(get_session, scope="function"),
            principal: Principal = Depends(require_reader)) -> StayPage:
    """List stays (entered and exited) newest first; a journey starts from the entries."""
    rows = service.history(session, segment_id, principal, customer_id=customer_id, cursor=cursor, limit=limit + 1)
    return StayPage(items=[StayOut.model_validate(r) for r in rows[:limit]],
                    next_cursor=rows[limit - 1].id if len(rows) > limit else None)


@router.post("/{segment_id}/tag", response_model=TagSegmentOut)
def tag_segment(segment_id: int, body: TagSegmentIn = Body(...), session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(require_editor)) -> TagSegmentOut:
    """Put a manual tag on every current member (the ones the caller may see); audited."""
    return TagSegmentOut(added=service.tag_segment(session, segment_id, body.tag, principal))

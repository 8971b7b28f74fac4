"""HTTP: customer groups with member counts, and a group's members. Thin over the service."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.groups import service
from siyu.domains.groups.schemas import GroupOut, GroupPage, MemberOut, MemberPage
from siyu.domains.access.deps import get_session, require_scope

router = APIRouter(prefix="/groups", tags=["groups"])
admin = require_scope("admin")


def _out(summary: service.GroupSummary) -> GroupOut:
    g = summary.group
    return GroupOut(id=g.id, chat_id=g.chat_id, name=g.name, owner_staff_id=g.owner_staff_id,
                    members=summary.members, created_at=g.created_at, dissolved_at=g.dissolved_at)


@router.get("", response_model=GroupPage)
def list_groups(cursor: int | None = None, limit: int = Query(50, ge=1, le=200),
                session: Session = Depends(get_session, scope="function"), _: Principal = Depends(admin)) -> GroupPage:
    """List groups with the number of people in each now."""
    page = service.list_groups(session, after_id=cursor, limit=limit)
    return GroupPage(items=[_out(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/{group_id}", response_model=GroupOut)
def get_group(group_id: int, session: Session = Depends(get_session, scope="function"), _: Principal = Depends(admin)) -> GroupOut:
    """Show one group."""
    return _out(service.get_group(session, group_id))


@router.get("/{group_id}/members", response_model=MemberPage)
def members(group_id: int, include_left: bool = False, cursor: int | None = None,
            limit: int = Query(50, ge=1, le=200), session: Session = Depends(get_session, scope="function"),
            _: Principal = Depends(admin)) -> MemberPage:
    """List a group's members (with include_left, every stay including past ones)."""
    page = service.group_members(session, group_id, include_left=include_left, after_id=cursor, limit=limit)
    return MemberPage(items=[MemberOut.model_validate(m) for m in page.items], next_cursor=page.next_cursor)

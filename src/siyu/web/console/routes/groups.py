"""Customer groups (社群): list with members now, a group's members (with their customers) and join/leave trend."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.groups import service as groups
from siyu.domains.staff import service as staff
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.charts import ADDED, LOST, daily_chart
from siyu.web.console.render import page, translator
from siyu.web.deps import get_session

router = APIRouter()
PAGE_SIZE = 50
FLOW_DAYS = 30


@router.get("/groups")
def group_list(request: Request, after: int | None = Query(None, ge=1),
               _user: ConsoleUser = Depends(require("groups.view")),
               session: Session = Depends(get_session, scope="function")) -> Response:
    """List groups in id order with the number of people in each now and their owners."""
    listing = groups.list_groups(session, after_id=after, limit=PAGE_SIZE)
    owners = staff.staff_by_ids(session, {s.group.owner_staff_id for s in listing.items if s.group.owner_staff_id})
    return page(request, "groups/list.html", listing=listing, owners=owners)


@router.get("/groups/{group_id}")
def group_page(group_id: int, request: Request, left: bool = Query(False), after: int | None = Query(None, ge=1),
               _user: ConsoleUser = Depends(require("groups.view")),
               session: Session = Depends(get_session, scope="function")) -> Response:
    """Show a group: members now (or every stay), and joins and leaves per day over 30 days."""
    summary = groups.get_group(session, group_id)
    members = groups.member_rows(session, group_id, include_left=left, after_id=after, limit=PAGE_SIZE)
    flow = groups.group_flow(session, group_id, FLOW_DAYS, tz=request.app.state.settings.tz)
    t = translator(request)
    chart = daily_chart([f.day for f in flow], [(t("groups.joined"), "bar", ADDED, [f.joined for f in flow]),
                                                (t("groups.left"), "bar", LOST, [f.left for f in flow])])
    owner = staff.staff_by_ids(session, [summary.group.owner_staff_id]) if summary.group.owner_staff_id else {}
    return page(request, "groups/detail.html", g=summary.group, count=summary.members, members=members,
                include_left=left, chart=chart, flow_totals=(sum(f.joined for f in flow), sum(f.left for f in flow)),
                owner=owner.get(summary.group.owner_staff_id), days=FLOW_DAYS)

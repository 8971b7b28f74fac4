"""Staff (员工): list with customers followed, a staff member's page, transfers in service and on departure.

A transfer moves follow relations to a colleague through the staff domain, which records it and
audits it; on the customer's page a single customer can be handed over the same way. The page also
shows the member's response over the last 30 brand days against the 30 before, from WeCom's contact
statistics (:mod:`siyu.domains.staff.behavior`, weighted as on the dashboard's leaderboard).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.customers import followup
from siyu.domains.staff import behavior
from siyu.domains.staff import service as staff
from siyu.errors import SiyuError
from siyu.kit.time import local_day, utcnow
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import error_text, page, redirect, translator
from siyu.web.console.routes.customer import detail_page
from siyu.web.deps import get_session

router = APIRouter()
PAGE_SIZE = 50
RESPONSE_DAYS = 30


def _response(request: Request, session: Session, staff_id: int) -> tuple[behavior.Response | None, behavior.Response | None]:
    """Return the member's response over the last RESPONSE_DAYS brand days and over the RESPONSE_DAYS before."""
    today = local_day(utcnow(), request.app.state.settings.tz)
    first = today - timedelta(days=RESPONSE_DAYS - 1)
    now = behavior.response_between(session, [staff_id], first, today).get(staff_id)
    before = behavior.response_between(session, [staff_id], first - timedelta(days=RESPONSE_DAYS),
                                       first - timedelta(days=1)).get(staff_id)
    return now, before
STATUS_FILTERS = {"active": "active", "departed": "departed", "all": None}


@router.get("/staff")
def staff_list(request: Request, status: str = Query("active"), after: int | None = Query(None, ge=1),
               _user: ConsoleUser = Depends(require("staff.view")),
               session: Session = Depends(get_session, scope="function")) -> Response:
    """List staff members with the number of customers each follows now."""
    status = status if status in STATUS_FILTERS else "active"
    listing = staff.list_staff(session, status=STATUS_FILTERS[status], after_id=after, limit=PAGE_SIZE)
    counts = staff.active_counts(session, [s.id for s in listing.items])
    return page(request, "staff/list.html", listing=listing, counts=counts, status_filter=status)


def _staff_page(request: Request, session: Session, staff_id: int, *, errors: dict[str, str] | None = None,
                status: int = 200) -> Response:
    member = staff.get_staff(session, staff_id)
    colleagues = [s for s in staff.list_staff(session, status="active", limit=200).items if s.id != staff_id]
    transfers = staff.recent_transfers(session, staff_id=staff_id, limit=20)
    names = staff.staff_by_ids(session, {t.from_staff_id for t in transfers} | {t.to_staff_id for t in transfers})
    response, response_before = _response(request, session, staff_id)
    return page(request, "staff/detail.html", status=status, member=member, colleagues=colleagues,
                transfers=transfers, names=names, followed=staff.active_counts(session, [staff_id])[staff_id],
                response=response, response_before=response_before, response_days=RESPONSE_DAYS,
                errors=errors or {})


@router.get("/staff/{staff_id}")
def staff_page(staff_id: int, request: Request, _user: ConsoleUser = Depends(require("staff.view")),
               session: Session = Depends(get_session, scope="function")) -> Response:
    """Show a staff member, their customers, transfers, and (for managers) transfer and departure forms."""
    return _staff_page(request, session, staff_id)


def _target(raw: str) -> int | None:
    return int(raw) if raw.strip().isdigit() else None


def _act(request: Request, session: Session, staff_id: int, field: str, action: Callable[[], object]) -> Response:
    """Run a transfer or departure; a refusal goes back to the staff page beside ``field``, nothing half-done."""
    try:
        action()
    except SiyuError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return _staff_page(request, session, staff_id, status=422, errors={field: error_text(translator(request), exc)})
    return redirect(request, f"/staff/{staff_id}")


@router.post("/staff/{staff_id}/transfer")
def transfer_all(staff_id: int, request: Request, to_staff: str = Form(""),
                 user: ConsoleUser = Depends(require("staff.manage")),
                 session: Session = Depends(get_session, scope="function")) -> Response:
    """Move every customer this staff member follows to a colleague."""
    target = _target(to_staff)
    if target is None:
        return _staff_page(request, session, staff_id, status=422,
                           errors={"to_staff": translator(request)("staff.choose_colleague")})
    return _act(request, session, staff_id, "to_staff",
                lambda: staff.transfer_customers(session, staff_id, target, None, actor=user.principal.actor))


@router.post("/staff/{staff_id}/depart")
def depart(staff_id: int, request: Request, inherit_to: str = Form(""),
           user: ConsoleUser = Depends(require("staff.manage")),
           session: Session = Depends(get_session, scope="function")) -> Response:
    """Mark a staff member departed, optionally handing all their customers to a colleague."""
    return _act(request, session, staff_id, "inherit_to",
                lambda: staff.depart_staff(session, staff_id, inherit_to=_target(inherit_to),
                                           actor=user.principal.actor))


@router.post("/customers/{cid}/transfer")
def transfer_one(cid: int, request: Request, from_staff: str = Form(""), to_staff: str = Form(""),
                 user: ConsoleUser = Depends(require("staff.manage")),
                 session: Session = Depends(get_session, scope="function")) -> Response:
    """Hand one customer from one of their owners to another staff member."""
    try:
        followup.transfer_owner(session, user.principal, cid, from_staff, to_staff)
    except SiyuError as exc:
        if exc.code == "customer_not_found":
            raise
        session.rollback()
        return detail_page(request, session, user, cid, status=422,
                           transfer_errors={from_staff: error_text(translator(request), exc)})
    return redirect(request, f"/customers/{cid}")

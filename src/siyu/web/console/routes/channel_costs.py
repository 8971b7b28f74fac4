"""The channel costs page: what each channel code cost, entered by admins and operators, for attribution's ROI.

Entering and deleting go through :mod:`siyu.domains.channel_costs.service` (audited), as the API and
``siyu channel-cost`` do; errors are shown beside the field they name.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.channel_codes.service import list_codes
from siyu.domains.channel_costs import service as costs
from siyu.errors import SiyuError
from siyu.kit.time import local_day, utcnow
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import field_errors, page, redirect, translator
from siyu.web.deps import get_session

router = APIRouter()
CODES_LISTED = 200


def _show(request: Request, session: Session, *, errors: dict[str, str] | None = None,
          values: dict[str, str] | None = None) -> Response:
    codes = [(v.code.id, v.code.name) for v in list_codes(session, limit=CODES_LISTED).items]
    return page(request, "analytics/channel_costs.html", status=422 if errors else 200, costs=costs.list_costs(session),
                codes=codes, errors=errors or {}, v=values or {}, title_key="growth.costs.title")


@router.get("/analytics/channel-costs")
def costs_page(request: Request, _user: ConsoleUser = Depends(require("analytics.view")),
               session: Session = Depends(get_session, scope="function")) -> Response:
    """List the entered costs, with the form to enter one."""
    return _show(request, session)


def _day(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise costs.InvalidCost("enter a day such as 2026-10-31", field=name) from exc


@router.post("/analytics/channel-costs")
def add_cost(request: Request, channel_code_id: str = Form(""), first_day: str = Form(""), last_day: str = Form(""),
             amount: str = Form(""), note: str = Form(""), user: ConsoleUser = Depends(require("growth.edit")),
             session: Session = Depends(get_session, scope="function")) -> Response:
    """Record a cost; errors beside their fields."""
    values = {"channel_code_id": channel_code_id, "first_day": first_day, "last_day": last_day, "amount": amount,
              "note": note}
    try:
        if not channel_code_id.strip().isdigit():
            raise costs.InvalidCost("choose a channel code", field="channel_code_id")
        today = local_day(utcnow(), request.app.state.settings.tz)
        costs.add_cost(session, channel_code_id=int(channel_code_id), first_day=_day(first_day, "first_day"),
                       last_day=_day(last_day, "last_day"), amount=amount.strip(), note=note.strip() or None,
                       actor=user.principal.actor, today=today)
    except SiyuError as exc:
        session.rollback()
        return _show(request, session, errors=field_errors(translator(request), exc, "amount"), values=values)
    return redirect(request, "/analytics/channel-costs")


@router.post("/analytics/channel-costs/{cost_id}/delete")
def delete_cost(cost_id: int, request: Request, user: ConsoleUser = Depends(require("growth.edit")),
                session: Session = Depends(get_session, scope="function")) -> Response:
    """Delete a cost entry."""
    costs.delete_cost(session, cost_id, actor=user.principal.actor)
    return redirect(request, "/analytics/channel-costs")

"""Channel codes (渠道活码): list with 30-day figures, a code's page with its daily chart, create and edit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from siyu.domains.channel_codes import service as codes
from siyu.domains.channel_codes.validation import PLATFORMS, STRATEGIES, WEEKDAYS
from siyu.domains.staff import service as staff
from siyu.errors import SiyuError
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.charts import ADDED, LOST, NET, SCANS, daily_chart
from siyu.web.console.render import error_text, page, redirect, translator
from siyu.web.console.routes.code_form import CodeForm, from_view, place_error, read_form, settings_of
from siyu.web.deps import get_session

router = APIRouter()
PAGE_SIZE = 50
STATS_DAYS = 30
ACTIVE_FILTERS = {"active": True, "inactive": False, "all": None}


@router.get("/channel-codes")
def code_list(request: Request, status: str = Query("active"), platform: str = Query(""),
              after: int | None = Query(None, ge=1), _user: ConsoleUser = Depends(require("channel_codes.view")),
              session: Session = Depends(get_session, scope="function")) -> Response:
    """List codes in id order with contacts added and lost over 30 days and followers now."""
    status = status if status in ACTIVE_FILTERS else "active"
    platform = platform if platform in PLATFORMS else ""
    listing = codes.list_codes(session, active=ACTIVE_FILTERS[status], platform=platform or None, after_id=after,
                               limit=PAGE_SIZE)
    totals = codes.period_totals(session, [v.code.id for v in listing.items], STATS_DAYS,
                                 tz=request.app.state.settings.tz)
    return page(request, "channel_codes/list.html", listing=listing, totals=totals, status_filter=status,
                platform=platform, platforms=PLATFORMS, days=STATS_DAYS)


def _chart(request: Request, stats: codes.CodeStats, scans: list[tuple[Any, int]]) -> dict[str, Any]:
    t = translator(request)
    return daily_chart([d.day for d in stats.days], [
        (t("codes.scans"), "bar", SCANS, [n for _d, n in scans]),
        (t("codes.added"), "line", ADDED, [d.added for d in stats.days]),
        (t("codes.lost"), "line", LOST, [d.lost for d in stats.days]),
        (t("codes.net"), "line", NET, [d.net for d in stats.days])])


@router.get("/channel-codes/new")
def new_code_form(request: Request, _user: ConsoleUser = Depends(require("channel_codes.edit")),
                  session: Session = Depends(get_session, scope="function")) -> Response:
    """Show an empty channel-code form."""
    form = CodeForm(values={"platform": "store", "strategy": "round_robin"}, hours={d: "" for d in WEEKDAYS})
    return _form_page(request, session, form, code_id=None)


@router.get("/channel-codes/{code_id}")
def code_page(code_id: int, request: Request, _user: ConsoleUser = Depends(require("channel_codes.view")),
              session: Session = Depends(get_session, scope="function")) -> Response:
    """Show a code's settings and its last 30 days as a chart."""
    view = codes.get_code(session, code_id)
    stats = codes.code_stats(session, code_id, STATS_DAYS, tz=request.app.state.settings.tz)
    scans = codes.scans_by_day(session, code_id, stats.days[0].day, stats.days[-1].day)
    return page(request, "channel_codes/detail.html", v=view, stats=stats, chart=_chart(request, stats, scans),
                weekdays=WEEKDAYS, scans=sum(n for _d, n in scans),
                landing_link=codes.landing_link(request.app.state.settings, view.code))


@router.get("/channel-codes/{code_id}/edit")
def edit_code_form(code_id: int, request: Request, _user: ConsoleUser = Depends(require("channel_codes.edit")),
                   session: Session = Depends(get_session, scope="function")) -> Response:
    """Show the form filled in with a code's settings."""
    return _form_page(request, session, from_view(codes.get_code(session, code_id)), code_id=code_id)


def _form_page(request: Request, session: Session, form: CodeForm, *, code_id: int | None,
               status: int = 200) -> Response:
    active_staff = staff.list_staff(session, status="active", limit=200).items
    return page(request, "channel_codes/form.html", status=status, form=form, code_id=code_id,
                platforms=PLATFORMS, strategies=STRATEGIES, weekdays=WEEKDAYS, staff_choices=active_staff)


@router.post("/channel-codes/new")
async def create_code(request: Request, user: ConsoleUser = Depends(require("channel_codes.edit")),
                      session: Session = Depends(get_session, scope="function")) -> Response:
    """Create a code from the form; errors go beside their fields."""
    form = read_form(await request.form())
    return await run_in_threadpool(_save, request, session, user, form, None)


@router.post("/channel-codes/{code_id}/edit")
async def update_code(code_id: int, request: Request, user: ConsoleUser = Depends(require("channel_codes.edit")),
                      session: Session = Depends(get_session, scope="function")) -> Response:
    """Change a code's settings from the form."""
    form = read_form(await request.form())
    return await run_in_threadpool(_save, request, session, user, form, code_id)


def _save(request: Request, session: Session, user: ConsoleUser, form: CodeForm, code_id: int | None) -> Response:
    t = translator(request)
    settings = settings_of(form, t)
    if not form.errors:
        try:
            if code_id is None:
                view = codes.create_code(session, **settings, actor=user.principal.actor)
            else:
                if settings["state"] is None:  # an emptied state keeps the current one rather than a new one
                    settings.pop("state")
                view = codes.update_code(session, code_id, {**settings, "active": form.active},
                                         actor=user.principal.actor)
            return redirect(request, f"/channel-codes/{view.code.id}")
        except SiyuError as exc:
            if exc.status == 404:
                raise
            session.rollback()
            place_error(form, exc, error_text(t, exc))
    return _form_page(request, session, form, code_id=code_id, status=422)

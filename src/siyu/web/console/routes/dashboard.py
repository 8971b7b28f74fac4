"""The dashboard (私域健康度): a period's figures against the period before, trends, acquisition, staff, groups.

Figures and their definitions come from :mod:`siyu.analytics.health`; this module picks the period
(whole days of the brand's calendar, the last 30 by default), computes the ratios, and links each
figure to the customers list filtered to the people behind it where such a filter exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics import health
from siyu.analytics.refresh import refresh_if_stale
from siyu.domains.channel_codes import service as codes
from siyu.domains.groups import service as groups
from siyu.domains.staff import service as staff
from siyu.kit.money import from_fen
from siyu.kit.time import day_bounds_utc, local_day, utcnow
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.charts import ADDED, LOST, NET, daily_chart
from siyu.web.console.render import page, translator
from siyu.web.deps import get_session

router = APIRouter()
DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP = 10


def _period(request: Request, first: date, last: date) -> health.Period:
    tz = request.app.state.settings.tz
    return health.Period(first, last, day_bounds_utc(first, tz)[0], day_bounds_utc(last, tz)[1])


def _pick_period(request: Request, errors: dict[str, str]) -> health.Period:
    """Return the period asked for by ``from``/``to`` (days), or the last 30 days; errors go by field."""
    t = translator(request)
    today = local_day(utcnow(), request.app.state.settings.tz)
    last, first = today, today - timedelta(days=DEFAULT_DAYS - 1)
    for name in ("from", "to"):
        raw = request.query_params.get(name, "").strip()
        try:
            day = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors[name] = t("customers.bad_date")
            continue
        if day is not None and name == "from":
            first = day
        elif day is not None:
            last = day
    if not errors and not 0 <= (last - first).days < MAX_DAYS:
        errors["to"] = t("dashboard.bad_period", days=MAX_DAYS)
    if errors:
        last, first = today, today - timedelta(days=DEFAULT_DAYS - 1)
    return _period(request, first, last)


@dataclass(frozen=True)
class Figure:
    """A KPI of the period, its value in the period before, and where its people are listed."""

    key: str
    now: Decimal | int | None
    before: Decimal | int | None
    percent: bool = False
    money: bool = False
    link: str | None = None

    @property
    def change(self) -> Decimal | None:
        """Return the relative change against the period before, in percent (None when undefined)."""
        if self.now is None or not self.before:
            return None
        return (Decimal(self.now) - Decimal(self.before)) * 100 / Decimal(self.before)


def _ratio(a: int, b: int) -> Decimal | None:
    return (Decimal(a) * 100 / Decimal(b)).quantize(Decimal("0.1")) if b else None


def _money(fen: int, n: int) -> Decimal | None:
    return (from_fen(fen) / n).quantize(Decimal("0.01")) if n else None


def _figures(now: health.Totals, before: health.Totals, size: int, new_customers: tuple[int, int],
             link: str) -> list[Figure]:
    return [
        Figure("private", size, None),
        Figure("new_customers", new_customers[0], new_customers[1], link=link),
        Figure("new", now.new_contacts, before.new_contacts),
        Figure("lost", now.lost_contacts, before.lost_contacts),
        Figure("net", now.net_contacts, before.net_contacts),
        Figure("active_rate", _ratio(now.active_customers, size), _ratio(before.active_customers, size), percent=True),
        Figure("conversion", _ratio(now.paying_customers, size), _ratio(before.paying_customers, size), percent=True),
        Figure("repurchase", _ratio(now.repurchasers, now.paying_customers),
               _ratio(before.repurchasers, before.paying_customers), percent=True),
        Figure("gmv", from_fen(now.gmv_fen), from_fen(before.gmv_fen), money=True),
        Figure("per_customer", _money(now.gmv_fen, now.paying_customers),
               _money(before.gmv_fen, before.paying_customers), money=True),
        Figure("aov", _money(now.gmv_fen, now.paid_orders), _money(before.gmv_fen, before.paid_orders), money=True),
        Figure("paid_orders", now.paid_orders, before.paid_orders),
        Figure("group_leaves", now.group_leaves, before.group_leaves),
    ]


def _charts(request: Request, period: health.Period, now: health.Totals) -> dict[str, Any]:
    t, days = translator(request), period.days
    contacts = daily_chart(days, [(t("dashboard.new"), "line", ADDED, [now.daily["new"][d] for d in days]),
                                  (t("dashboard.lost"), "line", LOST, [now.daily["lost"][d] for d in days]),
                                  (t("dashboard.net"), "line", NET,
                                   [now.daily["new"][d] - now.daily["lost"][d] for d in days])])
    gmv = daily_chart(days, [(t("dashboard.gmv"), "bar", ADDED, [float(from_fen(now.daily["gmv"][d])) for d in days])])
    groups_chart = daily_chart(days, [(t("groups.joined"), "bar", ADDED, [now.daily["joins"][d] for d in days]),
                                      (t("groups.left"), "bar", LOST, [now.daily["leaves"][d] for d in days])])
    return {"contacts": contacts, "gmv": gmv, "groups": groups_chart}


def _boards(session: Session, period: health.Period, platforms: list[tuple[str | None, int]]) -> dict[str, Any]:
    by_code = health.new_by_channel_code(session, period)[:TOP]
    names = codes.code_names(session, [c for c, _ in by_code if c is not None])
    flow = health.staff_flow(session, period)
    leaders = sorted(flow.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[:TOP]
    people = staff.staff_by_ids(session, [sid for sid, _ in leaders])
    followed = staff.active_counts(session, [sid for sid, _ in leaders])
    group_moves = health.group_flow(session, period)
    listed = groups.list_groups(session, limit=200).items
    group_rows = sorted(listed, key=lambda g: -g.members)[:TOP]
    return {"by_code": [(c, names.get(c) if c else None, n) for c, n in by_code],
            "by_platform": platforms[:TOP],
            "leaders": [(people[sid], followed.get(sid, 0), new, lost) for sid, (new, lost) in leaders if sid in people],
            "group_rows": [(g, group_moves.get(g.group.id, (0, 0))) for g in group_rows]}


@router.get("/dashboard")
def dashboard(request: Request, _user: ConsoleUser = Depends(require("dashboard.view")),
              session: Session = Depends(get_session, scope="function")) -> Response:
    """Show the health of the private domain over a period, compared with the period before."""
    errors: dict[str, str] = {}
    period = _pick_period(request, errors)
    span = period.last - period.first + timedelta(days=1)
    previous = _period(request, period.first - span, period.first - timedelta(days=1))
    tz = request.app.state.settings.tz
    refresh_if_stale(session, tz)
    now, before = health.period_totals(session, period, tz), health.period_totals(session, previous, tz)
    size = health.private_customers(session)
    platforms = health.new_by_platform(session, period)
    new_customers = (sum(n for _, n in platforms), sum(n for _, n in health.new_by_platform(session, previous)))
    link = f"/customers?added_from={period.first}&added_to={period.last}"
    return page(request, "dashboard.html", status=422 if errors else 200, period=period, previous=previous,
                errors=errors, figures=_figures(now, before, size, new_customers, link),
                charts=_charts(request, period, now), **_boards(session, period, platforms))

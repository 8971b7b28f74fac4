"""The dashboard (私域健康度): a period's figures against the period before, trends, acquisition, staff, groups.

Figures and their definitions come from :mod:`siyu.analytics.health` (staff members' response from
WeCom's statistics, :mod:`siyu.domains.staff.behavior`); this module picks the period
(whole days of the brand's calendar, the last 30 by default), computes the ratios, and links every
figure that counts customers to the customers list filtered to exactly those customers
(:mod:`siyu.web.console.links`): the link says how many customers it opens, and the tests check that
the list holds that many. Ratios and money link to the customers they are computed from (active,
paying, repurchasing); net new is a difference of two linked figures and links to neither, and a staff
member's reply rate and reply time come from WeCom's daily aggregates, behind which no customer list
exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics import health
from siyu.analytics.refresh import refresh_if_stale
from siyu.domains.channel_codes import service as codes
from siyu.domains.groups import groups_by_ids
from siyu.domains.staff import behavior
from siyu.domains.staff import service as staff
from siyu.kit.money import from_fen
from siyu.kit.time import day_bounds_utc, local_day, utcnow
from siyu.web.console import links
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
    """A KPI of the period, its value in the period before, and the customers behind it (count and list)."""

    key: str
    now: Decimal | int | None
    before: Decimal | int | None
    percent: bool = False
    money: bool = False
    link: str | None = None
    people: int | None = None  # how many customers the link lists

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


def _figures(p: health.Period, now: health.Totals, before: health.Totals, new: tuple[int, int]) -> list[Figure]:
    def did(kind: str) -> str:
        return links.activity(kind, p.first, p.last)

    ordered = {"link": did("ordered"), "people": now.paying}
    return [
        Figure("private", now.private_end, before.private_end, link=links.activity("connected", None, p.last),
               people=now.private_end),
        Figure("entered", now.entered, before.entered, link=did("entered"), people=now.entered),
        Figure("lost", now.lost, before.lost, link=did("lost"), people=now.lost),
        Figure("net", now.net, before.net),
        Figure("new_customers", new[0], new[1], link=links.first_seen(p.first, p.last), people=new[0]),
        Figure("added", now.added, before.added, link=did("contact_added"), people=now.added),
        Figure("deleted", now.deleted, before.deleted, link=did("contact_deleted"), people=now.deleted),
        Figure("group_left", now.left, before.left, link=did("group_left"), people=now.left),
        Figure("active_rate", _ratio(now.active, now.private_end), _ratio(before.active, before.private_end),
               percent=True, link=did("active"), people=now.active),
        Figure("conversion", _ratio(now.paying, now.private_end), _ratio(before.paying, before.private_end),
               percent=True, **ordered),
        Figure("repurchase", _ratio(now.repurchasers, now.paying), _ratio(before.repurchasers, before.paying),
               percent=True, link=did("repurchased"), people=now.repurchasers),
        Figure("gmv", from_fen(now.gmv_fen), from_fen(before.gmv_fen), money=True, **ordered),
        Figure("per_customer", _money(now.gmv_fen, now.paying), _money(before.gmv_fen, before.paying), money=True,
               **ordered),
        Figure("aov", _money(now.gmv_fen, now.paid_orders), _money(before.gmv_fen, before.paid_orders), money=True,
               **ordered),
        Figure("paid_orders", now.paid_orders, before.paid_orders, **ordered),
    ]


def _day_links(days: list[date], counts: dict[date, int], kind: str) -> list[str | None]:
    """Return, per day, the list of that day's customers (None on a day without any)."""
    return links.each_day(kind, days, counts)


def _charts(request: Request, period: health.Period, now: health.Totals) -> dict[str, Any]:
    t, days, daily = translator(request), period.days, now.daily
    flow = daily_chart(days, [
        (t("dashboard.entered"), "line", ADDED, [daily["entered"][d] for d in days],
         _day_links(days, daily["entered"], "entered")),
        (t("dashboard.lost"), "line", LOST, [daily["lost"][d] for d in days], _day_links(days, daily["lost"], "lost")),
        (t("dashboard.net"), "line", NET, [daily["entered"][d] - daily["lost"][d] for d in days], None)])
    contacts = daily_chart(days, [
        (t("dashboard.added"), "line", ADDED, [daily["added"][d] for d in days],
         _day_links(days, daily["added"], "contact_added")),
        (t("dashboard.deleted"), "line", LOST, [daily["deleted"][d] for d in days],
         _day_links(days, daily["deleted"], "contact_deleted"))])
    gmv = daily_chart(days, [(t("dashboard.gmv"), "bar", ADDED, [str(from_fen(daily["gmv"][d])) for d in days],
                              _day_links(days, daily["paying"], "ordered"), [daily["paying"][d] for d in days])])
    groups_chart = daily_chart(days, [
        (t("groups.joined"), "bar", ADDED, [daily["joined"][d] for d in days],
         _day_links(days, daily["joined"], "group_joined")),
        (t("groups.left"), "bar", LOST, [daily["left"][d] for d in days], _day_links(days, daily["left"], "group_left"))])
    return {"flow": flow, "contacts": contacts, "gmv": gmv, "groups": groups_chart}


@dataclass(frozen=True)
class Board:
    """A row of a ranking: a label, where the label leads, figures each with the list it opens, and
    figures that no customer list stands behind (a staff member's response: (now, before, unit))."""

    label: str
    href: str | None
    cells: list[tuple[int, str | None]]
    rates: list[tuple[Decimal | None, Decimal | None, str]] = field(default_factory=list)


def _by_code(session: Session, p: health.Period, none_label: str) -> list[Board]:
    rows = health.added_by_channel_code(session, p)[:TOP]
    names = codes.code_names(session, [c for c, _ in rows if c is not None])
    return [Board(names.get(c) or f"#{c}" if c else none_label, f"/channel-codes/{c}" if c else None,
                  [(n, links.activity("contact_added", p.first, p.last, code=links.code(c)))]) for c, n in rows]


def _by_platform(p: health.Period, platforms: list[tuple[str | None, int]], label: Any) -> list[Board]:
    return [Board(label(platform), None, [(n, links.first_seen(p.first, p.last, platform=platform,
                                                               any_platform=False))])
            for platform, n in platforms[:TOP]]


def _leaders(session: Session, p: health.Period, before: health.Period) -> list[Board]:
    """Return the staff who gained most customers, with their response (WeCom's statistics) now and before."""
    flow = health.staff_flow(session, p)
    ranked = sorted(flow.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))[:TOP]
    ids = [sid for sid, _ in ranked]
    people = staff.staff_by_ids(session, ids)
    followed = health.followed_now(session)
    answers = behavior.response_between(session, ids, p.first, p.last)
    earlier = behavior.response_between(session, ids, before.first, before.last)
    out = []
    for sid, (added, deleted) in ranked:
        if sid not in people:
            continue
        userid = people[sid].userid
        now, then = answers.get(sid), earlier.get(sid)
        out.append(Board(people[sid].name, f"/staff/{sid}", [
            (followed.get(sid, 0), links.customers(owner=userid)),
            (added, links.activity("contact_added", p.first, p.last, staff=userid)),
            (deleted, links.activity("contact_deleted", p.first, p.last, staff=userid))], [
            (now and now.reply_rate, then and then.reply_rate, "%"),
            (now and now.avg_reply_minutes, then and then.avg_reply_minutes, "min")]))
    return out


def _group_rows(session: Session, p: health.Period) -> list[Board]:
    members = health.members_now(session)
    moves = health.group_flow(session, p)
    ids = sorted(set(members) | set(moves), key=lambda g: (-members.get(g, 0), -sum(moves.get(g, (0, 0))), g))[:TOP]
    groups = groups_by_ids(session, ids)
    out = []
    for gid in ids:
        if gid not in groups:
            continue
        chat = groups[gid].chat_id
        joined, left = moves.get(gid, (0, 0))
        out.append(Board(groups[gid].name, f"/groups/{gid}", [
            (members.get(gid, 0), links.customers(group=chat)),
            (joined, links.activity("group_joined", p.first, p.last, group=chat)),
            (left, links.activity("group_left", p.first, p.last, group=chat))]))
    return out


def _boards(request: Request, session: Session, period: health.Period, previous: health.Period,
            platforms: list[tuple[str | None, int]]) -> dict[str, Any]:
    t = translator(request)

    def platform_label(platform: str | None) -> str:
        if platform is None:
            return t("dashboard.no_platform")
        return t(f"platform.{platform}") if t.has(f"platform.{platform}") else platform

    return {"by_code": _by_code(session, period, t("dashboard.no_code")),
            "by_platform": _by_platform(period, platforms, platform_label),
            "leaders": _leaders(session, period, previous), "group_rows": _group_rows(session, period)}


@router.get("/dashboard")
def dashboard(request: Request, _user: ConsoleUser = Depends(require("dashboard.view")),
              session: Session = Depends(get_session, scope="function")) -> Response:
    """Show the health of the private domain over a period, compared with the period before."""
    errors: dict[str, str] = {}
    period = _pick_period(request, errors)
    span = period.last - period.first + timedelta(days=1)
    previous = _period(request, period.first - span, period.first - timedelta(days=1))
    refresh_if_stale(session, request.app.state.settings.tz)
    now, before = health.period_totals(session, period), health.period_totals(session, previous)
    platforms = health.new_by_platform(session, period)
    new_customers = (sum(n for _, n in platforms), sum(n for _, n in health.new_by_platform(session, previous)))
    return page(request, "dashboard.html", status=422 if errors else 200, period=period, previous=previous,
                errors=errors, figures=_figures(period, now, before, new_customers),
                charts=_charts(request, period, now), **_boards(request, session, period, previous, platforms))

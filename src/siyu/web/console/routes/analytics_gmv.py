"""The GMV page: sales = traffic × entry rate × conversion × AOV for two periods, and a waterfall of how
each factor moved GMV from the base period to the current one.

Numbers come from :func:`siyu.analytics.growth_reports.gmv_job` (``GET /api/v1/analytics/gmv``,
``siyu analyze gmv``); the parts are LMDI's, rounded to the fen so they add up to the change exactly.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics import gmv
from siyu.analytics.growth_reports import Job, Where, gmv_job
from siyu.analytics.growth_schemas import GmvOut
from siyu.web.console.i18n import Translator
from siyu.web.console.routes.analytics_forms import Controls
from siyu.web.console.routes.analytics_view import Analysis, add_pages, respond

router = APIRouter()
UP, DOWN, TOTAL = "#0a7d55", "#b42318", "#3b82f6"


def read_controls(request: Request) -> tuple[Controls, Job[GmvOut] | None, tuple[Any, ...]]:
    """Return the page's controls, the decomposition's job and what identifies it (None: fix something)."""
    c = Controls.of(request)
    start = c.day("from", c.today - timedelta(days=30))
    end = c.day("to", c.today - timedelta(days=1))
    base_from, base_to = c.day("base_from", None), c.day("base_to", None)
    events = tuple(e.strip() for e in c.raw("entry_events", ",".join(gmv.ENTRY_EVENTS)).split(",") if e.strip())
    for name, day in (("from", start), ("to", end)):
        if day is None:
            c.errors.setdefault(name, c.t("analytics.error.required"))
    if (base_from is None) != (base_to is None):
        c.errors.setdefault("base_to" if base_to is None else "base_from", c.t("growth.gmv.both_base"))
    found: list[Job[GmvOut]] = []
    if start and end and not c.errors:
        current = gmv.Period(start, end)
        base = gmv.Period(base_from, base_to) if base_from and base_to else None
        where = Where(request.app.state.engine, request.app.state.settings)
        c.check(lambda: found.append(gmv_job(where, current, base, events)))
    key = ("gmv", start, end, base_from, base_to, events)
    return c, (found[0] if found and not c.errors else None), key


def waterfall(t: Translator, out: GmvOut) -> dict[str, Any]:
    """Return the waterfall: base GMV, each factor's part (up green, down red) floating on the running total,
    then current GMV. Floats only for drawing; the table shows the exact yuan."""
    names = [t("growth.gmv.base_gmv")] + [t(f"growth.gmv.factor.{p.factor}") for p in out.parts] + [t("growth.gmv.current_gmv")]
    running, base, up, down = out.base.gmv, [0.0], [0.0], [0.0]
    totals = [float(out.base.gmv)]
    for p in out.parts:
        after = running + p.amount
        base.append(float(min(running, after)))
        up.append(float(p.amount) if p.amount > 0 else 0.0)
        down.append(float(-p.amount) if p.amount < 0 else 0.0)
        totals.append(0.0)
        running = after
    base.append(0.0), up.append(0.0), down.append(0.0), totals.append(float(out.current.gmv))
    return {"categories": names, "base": base, "series": [
        {"name": t("growth.gmv.total"), "data": totals, "color": TOTAL},
        {"name": t("growth.gmv.up"), "data": up, "color": UP},
        {"name": t("growth.gmv.down"), "data": down, "color": DOWN}]}


def _present(t: Translator) -> Any:
    def present(out: GmvOut) -> dict[str, Any]:
        parts = {p.factor: p.amount for p in out.parts}
        rows = [{"factor": name, "name": t(f"growth.gmv.factor.{name}"), "base": getattr(out.base, name),
                 "current": getattr(out.current, name), "part": parts[name]} for name in gmv.FACTORS]
        return {"gmv": out, "factors": rows, "waterfall": waterfall(t, out),
                "check": sum(parts.values(), Decimal(0)) == out.change}
    return present


def _page(request: Request, session: Session, compute: bool) -> Response:
    controls, job, key = read_controls(request)
    analysis = None
    if job is not None:
        present = _present(controls.t)
        analysis = Analysis(key, job.compute, lambda raw: present(job.shape(raw)))
    return respond(request, session, controls, "analytics/gmv.html", "analytics/_gmv.html", analysis,
                   compute=compute, title_key="growth.gmv.title")


add_pages(router, "/analytics/gmv", _page)

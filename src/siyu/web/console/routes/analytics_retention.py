"""The retention page: the cohort triangle as a heat-map table, and the average retention curve.

Numbers come from :func:`siyu.analytics.retention.compute`, the function behind
``GET /api/v1/analytics/retention`` and ``siyu analyze retention``; the controls are its parameters:
the days whose cohorts are reported, day / week / month periods, how many periods to follow,
cohorts by first order or by join date, coming back as a paid order or as chosen events, and
first-time or recurring retention.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics import retention
from siyu.analytics.engines import Facts
from siyu.web.console.i18n import Translator
from siyu.web.console.routes.analytics_forms import Controls, default_as_of
from siyu.web.console.routes.analytics_view import PALETTE, Analysis, add_pages, bars, heat, respond, share

router = APIRouter()
DEFAULT_PERIODS = 12
DEFAULT_DAYS = 12 * 7  # twelve weeks of cohorts by default
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
SEPARATORS = re.compile(r"[,，\s]+")


def _events(c: Controls) -> tuple[str, ...]:
    """Return the event types that count as coming back (none: a paid order); errors go beside ``events``."""
    kind = c.choice("activity", ("orders", "events"), "orders")
    types = tuple(dict.fromkeys(x for x in SEPARATORS.split(c.raw("events", "")) if x))
    if kind == "orders":
        return ()
    bad = [x for x in types if not EVENT_TYPE.match(x)]
    if not types or bad:
        c.errors["events"] = c.t("analytics.error.event_types", bad=", ".join(bad))
    return types


def read_controls(request: Request) -> tuple[Controls, retention.RetentionParams | None]:
    """Return the page's controls and the retention parameters they give (None when a field is bad)."""
    c = Controls.of(request)
    end = c.day("to", default_as_of(c))
    start = c.day("from", end - timedelta(days=DEFAULT_DAYS - 1) if end else None)
    unit = c.choice("unit", ("day", "week", "month"), "week")
    periods = c.number("periods", DEFAULT_PERIODS)
    cohort_by = c.choice("cohort_by", ("first_order", "joined"), "first_order")
    activity = _events(c)
    mode = c.choice("mode", ("first", "recurring"), "first")
    for name, day in (("to", end), ("from", start)):
        if day is None:
            c.errors.setdefault(name, c.t("analytics.error.required"))
    if start is None or end is None:
        return c, None
    params = retention.RetentionParams(start, end, unit, periods, cohort_by, activity, mode)  # type: ignore[arg-type]
    c.check(lambda: params.check(c.today))
    return c, params


def _cells(cohort: dict[str, Any]) -> list[dict[str, Any]]:
    size = cohort["size"]
    return [{"n": n, "share": share(n, size), "heat": heat(n, size)} for n in cohort["retained"]]


def _curve(t: Translator, cohorts: list[dict[str, Any]], periods: int) -> dict[str, Any]:
    """Return the average retention per period since the cohort: retained ÷ size of the cohorts that reached it."""
    values = []
    for k in range(periods + 1):
        reached = [c for c in cohorts if len(c["retained"]) > k]
        size = sum(c["size"] for c in reached)
        values.append(str(share(sum(c["retained"][k] for c in reached), size) or Decimal(0)) if size else None)
    while values and values[-1] is None:
        values.pop()
    return bars([f"+{k}" for k in range(len(values))],
                [(t("analytics.retention.average"), values, PALETTE[0])]) | {"kind": "line", "unit": "%"}


def _present(t: Translator, params: retention.RetentionParams) -> Any:
    def present(result: retention.RetentionResult) -> dict[str, Any]:
        width = max((len(c["retained"]) for c in result.cohorts), default=0)
        return {"cohorts": [{"first": c["cohort"], "size": c["size"], "cells": _cells(c)} for c in result.cohorts],
                "width": width, "curve": _curve(t, result.cohorts, params.periods),
                "unit_name": t(f"analytics.unit.{params.unit}"), "total": sum(c["size"] for c in result.cohorts)}
    return present


def _page(request: Request, session: Session, compute: bool) -> Response:
    controls, params = read_controls(request)
    analysis = None
    if params is not None:
        tz = request.app.state.settings.tz

        def run(facts: Facts) -> retention.RetentionResult:
            return retention.compute(facts, params, tz)

        analysis = Analysis(("retention", params), run, _present(controls.t, params))
    return respond(request, session, controls, "analytics/retention.html", "analytics/_retention.html", analysis,
                   compute=compute, title_key="analytics.retention.title")


add_pages(router, "/analytics/retention", _page)

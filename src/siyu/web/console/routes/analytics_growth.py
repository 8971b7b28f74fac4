"""The repurchase, per-customer value, channel attribution and staff performance pages: controls, a chart
and the report's table, from the jobs behind the API and the CLI (:mod:`siyu.analytics.growth_reports`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from siyu.analytics import attribution, cohort_value, repurchase, staff_performance
from siyu.analytics.growth_reports import (Job, Where, attribution_job, repurchase_job, staff_job, value_job)
from siyu.web.console.i18n import Translator
from siyu.web.console.routes.analytics_forms import Controls
from siyu.web.console.routes.analytics_view import PALETTE, Analysis, add_pages, bars, respond

router = APIRouter()


@dataclass(frozen=True)
class Field:
    """A control: name, input type ("date", "number", "select") and, for a select, its options."""

    name: str
    kind: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """What a report shows: a title key, the columns (attribute names) and the rows' source."""

    title: str
    columns: tuple[str, ...]
    rows: Callable[[BaseModel], list[Any]]


@dataclass(frozen=True)
class Report:
    """One simple page: its path, controls with defaults, the job they make, tables and a chart."""

    slug: str
    fields: tuple[Field, ...]
    defaults: Callable[[date], dict[str, str]]
    job: Callable[[Where, dict[str, Any]], Job[Any]]
    tables: tuple[Table, ...]
    chart: Callable[[Translator, Any], dict[str, Any]]


def _period(today: date, days: int = 90) -> dict[str, str]:
    return {"from": (today - timedelta(days=days)).isoformat(), "to": (today - timedelta(days=1)).isoformat()}


def _read(c: Controls, report: Report) -> dict[str, Any] | None:
    """Return the typed values as the job's arguments (None when one must be fixed)."""
    defaults = report.defaults(c.today)
    out: dict[str, Any] = {}
    for f in report.fields:
        if f.kind == "date":
            out[f.name] = c.day(f.name, date.fromisoformat(defaults[f.name]) if defaults.get(f.name) else None)
            if out[f.name] is None and f.name in ("from", "to"):
                c.errors.setdefault(f.name, c.t("analytics.error.required"))
        elif f.kind == "number":
            out[f.name] = c.number(f.name, int(defaults[f.name]))
        else:
            out[f.name] = c.choice(f.name, f.options, defaults[f.name])
    return None if c.errors else out


def _chart_bars(t: Translator, labels: list[str], values: list[Any], name: str) -> dict[str, Any]:
    return bars(labels, [(t(name), [float(v or 0) for v in values], PALETTE[0])])


REPORTS = (
    Report("repurchase", (Field("from", "date"), Field("to", "date"), Field("unit", "select", ("month", "week")),
                          Field("within_days", "number")),
           lambda today: {**_period(today, 180), "unit": "month", "within_days": "90"},
           lambda w, a: repurchase_job(w, repurchase.RepurchaseParams(a["from"], a["to"], a["unit"], a["within_days"])),
           (Table("growth.repurchase.cohorts", ("cohort", "customers", "repurchased", "rate",
                                                "median_days_to_repurchase", "median_gap_days"),
                  lambda o: o.cohorts),
            Table("growth.repurchase.distribution", ("from_days", "to_days", "gaps"), lambda o: o.distribution)),
           lambda t, o: _chart_bars(t, [f"{b.from_days}–{'' if b.to_days is None else b.to_days}" for b in o.distribution],
                                    [b.gaps for b in o.distribution], "growth.repurchase.gaps")),
    Report("value", (Field("from", "date"), Field("to", "date"), Field("as_of", "date"),
                     Field("cohort_by", "select", ("first_order", "joined")), Field("unit", "select", ("month", "week"))),
           lambda today: {**_period(today, 180), "as_of": "", "cohort_by": "first_order", "unit": "month"},
           lambda w, a: value_job(w, cohort_value.ValueParams(a["from"], a["to"], a["cohort_by"], a["unit"], a["as_of"])),
           (Table("growth.value.cohorts", ("label", "customers", "buyers", "orders", "revenue", "value_per_customer",
                                           "value_per_buyer"), lambda o: o.cohorts),
            Table("growth.value.channels", ("label", "customers", "buyers", "orders", "revenue", "value_per_customer",
                                            "value_per_buyer"), lambda o: o.channels)),
           lambda t, o: _chart_bars(t, [r.label for r in o.cohorts], [r.value_per_customer for r in o.cohorts],
                                    "growth.value.per_customer")),
    Report("attribution", (Field("from", "date"), Field("to", "date"), Field("days", "number")),
           lambda today: {**_period(today, 60), "days": "30"},
           lambda w, a: attribution_job(w, attribution.AttributionParams(a["from"], a["to"], a["days"])),
           (Table("growth.attribution.channels", ("channel_code", "acquired", "complete", "buyers", "orders", "revenue",
                                                  "cost", "cost_per_customer", "roi"), lambda o: o.channels),),
           lambda t, o: _chart_bars(t, [r.channel_code for r in o.channels[:15]], [r.revenue for r in o.channels[:15]],
                                    "growth.attribution.revenue")),
    Report("staff-performance", (Field("from", "date"), Field("to", "date"), Field("within_days", "number")),
           lambda today: {**_period(today, 30), "within_days": "30"},
           lambda w, a: staff_job(w, staff_performance.StaffParams(a["from"], a["to"], a["within_days"])),
           (Table("growth.staff.members", ("name", "owned", "added", "converted", "conversion", "orders", "revenue",
                                           "chats", "reply_rate", "avg_reply_minutes"), lambda o: o.staff),),
           lambda t, o: _chart_bars(t, [r.name for r in o.staff[:15]], [r.revenue for r in o.staff[:15]],
                                    "growth.staff.revenue")),
)


def _cell(value: Any) -> Any:
    return "–" if value is None else value


def _builder(report: Report) -> Callable[[Request, Session, bool], Response]:
    def build(request: Request, session: Session, compute: bool) -> Response:
        c = Controls.of(request)
        args = _read(c, report)
        analysis = None
        if args is not None:
            found: list[Job[Any]] = []
            where = Where(request.app.state.engine, request.app.state.settings)
            c.check(lambda: found.append(report.job(where, args)), {"": "form"})
            if found and not c.errors:
                job, t = found[0], c.t

                def present(raw: Any) -> dict[str, Any]:
                    out = job.shape(raw)
                    return {"tables": [{"title": tb.title, "columns": tb.columns,
                                        "rows": [[_cell(getattr(r, col, None) if not isinstance(r, dict) else r.get(col))
                                                  for col in tb.columns] for r in tb.rows(out)]} for tb in report.tables],
                            "chart": report.chart(t, out)}
                analysis = Analysis((report.slug, tuple(sorted(args.items()))), job.compute, present)
        options = {f.name: [(o, c.t(f"growth.option.{o}")) for o in f.options] for f in report.fields if f.options}
        return respond(request, session, c, "analytics/growth.html", "analytics/_growth.html", analysis,
                       compute=compute, title_key=f"growth.{report.slug}.title", report=report, options=options)
    return build


for _report in REPORTS:
    add_pages(router, f"/analytics/{_report.slug}", _builder(_report))

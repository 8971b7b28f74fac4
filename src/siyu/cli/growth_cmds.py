"""``siyu analyze funnel|gmv|repurchase|value|attribution|staff-performance`` and ``siyu channel-cost``.

The commands call :mod:`siyu.analytics.growth_reports` (the API and the console call the same) and
print a table, JSON (the API's shape) or CSV. Bad input exits with status 2 and says what to fix.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import orjson
import typer
from pydantic import BaseModel

from siyu.analytics import attribution, cohort_value, gmv, repurchase, staff_performance
from siyu.analytics.engines import ENGINES
from siyu.analytics.funnel_spec import FunnelParams, InvalidFunnel, parse_steps, parse_window
from siyu.analytics.growth_reports import (Where, attribution_report, funnel_dropped, funnel_report, funnel_segment,
                                           gmv_report,
                                           repurchase_report, staff_report, value_report)
from siyu.cli.common import engine, settings
from siyu.db.engine import unit_of_work
from siyu.domains.channel_costs import service as costs
from siyu.errors import SiyuError

T = TypeVar("T")
DAY = ["%Y-%m-%d"]
ENGINE_HELP = f"One of {', '.join(ENGINES)}."
costs_app = typer.Typer(no_args_is_help=True, help="What each channel code cost (for channel attribution's ROI).")


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _where(engine_name: str) -> Where:
    return Where(engine(), settings(), engine_name)


def _bad(exc: SiyuError) -> typer.Exit:
    typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
    return typer.Exit(1 if exc.status == 404 else 2)


def _guard(make: Callable[[], T]) -> T:
    """Return ``make()``; a SiyuError becomes its message on stderr and exit status 2 (bad input)."""
    try:
        return make()
    except SiyuError as exc:
        raise _bad(exc) from exc


def _emit(out: BaseModel, fmt: Format, rows: Sequence[dict[str, Any]], title: str) -> None:
    """Print the report as JSON (the API's shape), or its main rows as CSV or an aligned table."""
    if fmt is Format.json:
        typer.echo(orjson.dumps(out.model_dump(mode="json", by_alias=True), option=orjson.OPT_INDENT_2).decode())
        return
    columns = list(rows[0]) if rows else []
    if fmt is Format.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([[("" if r[c] is None else r[c]) for c in columns] for r in rows])
        return
    typer.echo(title)
    cells = [[str(c) for c in columns]] + [["-" if r[c] is None else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        typer.echo("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))


def _ids(raw: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in raw.split(",") if x.strip())
    except ValueError as exc:
        raise _bad(InvalidFunnel(f"--segments takes segment ids such as 3,7, got {raw!r}")) from exc


def _steps_arg(raw: str) -> Any:
    if raw.startswith("@"):
        path = Path(raw[1:])
        try:
            return parse_steps(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidFunnel(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_steps(raw)


def funnel_command(
    steps: str = typer.Option(..., "--steps", help='Event types "content_viewed,contact_added,order", JSON steps with '
                              'filters, or @file.json (docs/analytics.md#funnels).'),
    start: datetime = typer.Option(..., "--from", formats=DAY, help="First day customers may enter (brand's calendar)."),
    end: datetime = typer.Option(..., "--to", formats=DAY, help="Last day customers may enter."),
    window: str = typer.Option("7d", "--window", help="Conversion window from the entry: 7d, 36h, 90m."),
    mode: str = typer.Option("ordered", "--mode", help="ordered, strict (no other step in between) or unordered."),
    breakdown: str | None = typer.Option(None, "--breakdown", help="channel_code, staff, platform or segment."),
    segment_ids: str = typer.Option("", "--segments", help="With --breakdown segment: segment ids, comma-separated."),
    dropped_at: int | None = typer.Option(None, "--dropped-at", help="List the customers who dropped at this step."),
    save_segment: str | None = typer.Option(None, "--save-segment", help="With --dropped-at: make them a segment of "
                                            "this name (held by a manual tag)."),
    limit: int = typer.Option(100, "--limit", help="With --dropped-at: customers per page (1–10000)."),
    offset: int = typer.Option(0, "--offset", help="With --dropped-at: customers to skip."),
    engine_name: str = typer.Option("auto", "--engine", help=ENGINE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """Count the customers reaching each step of a funnel (or list those who dropped at a step)."""
    params = _guard(lambda: FunnelParams(_steps_arg(steps), start.date(), end.date(), parse_window(window), mode,  # type: ignore[arg-type]
                                         breakdown, _ids(segment_ids)))
    if save_segment is not None:
        if dropped_at is None:
            raise _bad(InvalidFunnel("--save-segment needs --dropped-at STEP"))
        made = _guard(lambda: funnel_segment(_where(engine_name), params, dropped_at, save_segment, "cli"))
        typer.echo(f"segment {made.segment_id} {made.name!r}: {made.customers:,} customers (tag {made.tag})")
        return
    if dropped_at is not None:
        if not 1 <= limit <= 10000 or offset < 0:
            raise _bad(InvalidFunnel("--limit is 1–10000 and --offset at least 0"))
        page = _guard(lambda: funnel_dropped(_where(engine_name), params, dropped_at, limit, offset))
        rows = [{"customer_id": c.customer_id, "entered_at": c.entered_at.isoformat(),
                 "last_step_at": c.last_step_at.isoformat()} for c in page.customers]
        _emit(page, fmt, rows, f"dropped at step {dropped_at}: {page.total:,} customers (showing {len(rows)})")
        return
    out = _guard(lambda: funnel_report(_where(engine_name), params))
    groups = [("", out.steps)] + [(g.label, g.steps) for g in out.breakdown or []]
    rows = [{"group": name or "all", "step": s.step, "label": s.label, "customers": s.customers,
             "from_previous": s.conversion_from_previous, "from_first": s.conversion_from_first,
             "median_s_from_previous": s.median_seconds_from_previous} for name, steps_ in groups for s in steps_]
    _emit(out, fmt, rows, f"funnel {params.start}..{params.end}, {params.mode}, window {window} ({out.params.engine})")


def gmv_command(
    start: datetime = typer.Option(..., "--from", formats=DAY, help="First day of the current period."),
    end: datetime = typer.Option(..., "--to", formats=DAY, help="Last day of the current period."),
    base_from: datetime | None = typer.Option(None, "--base-from", formats=DAY, help="First day of the base period "
                                              "(default: the same length just before)."),
    base_to: datetime | None = typer.Option(None, "--base-to", formats=DAY, help="Last day of the base period."),
    entry_events: str = typer.Option(",".join(gmv.ENTRY_EVENTS), "--entry-events", help="Event types that count as "
                                     "entering the shop (a paid order always does)."),
    engine_name: str = typer.Option("auto", "--engine", help=ENGINE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """Decompose GMV into traffic x entry rate x conversion x AOV and attribute the change to each factor."""
    def run() -> Any:
        if (base_from is None) != (base_to is None):
            raise gmv.InvalidGmv("give both --base-from and --base-to, or neither")
        base = gmv.Period(base_from.date(), base_to.date()) if base_from and base_to else None
        return gmv_report(_where(engine_name), gmv.Period(start.date(), end.date()), base,
                          tuple(t.strip() for t in entry_events.split(",") if t.strip()))
    out = _guard(run)
    rows = [{"factor": name, "base": getattr(out.base, name), "current": getattr(out.current, name),
             "change_yuan": next((p.amount for p in out.parts if p.factor == name), None)}
            for name in ("traffic", "entry_rate", "conversion", "aov")]
    rows.append({"factor": "gmv", "base": out.base.gmv, "current": out.current.gmv, "change_yuan": out.change})
    _emit(out, fmt, rows, f"GMV {out.base.start}..{out.base.end} -> {out.current.start}..{out.current.end} "
                          f"({out.method}, {out.engine})")


def repurchase_command(
    start: datetime = typer.Option(..., "--from", formats=DAY, help="First day whose cohort is reported."),
    end: datetime = typer.Option(..., "--to", formats=DAY, help="Last day counted."),
    unit: str = typer.Option("month", "--unit", help="week or month cohorts of first purchase."),
    within_days: int = typer.Option(90, "--within-days", help="A second purchase within this many days repurchases."),
    engine_name: str = typer.Option("auto", "--engine", help=ENGINE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """Print repurchase per cohort of first purchase, the gap distribution and the period's repurchase rate."""
    params = repurchase.RepurchaseParams(start.date(), end.date(), unit, within_days)  # type: ignore[arg-type]
    out = _guard(lambda: repurchase_report(_where(engine_name), params))
    rows = [c.model_dump() for c in out.cohorts]
    _emit(out, fmt, rows, f"repurchase within {within_days} days ({out.engine}): period rate "
                          f"{out.period_rate if out.period_rate is not None else '-'} of {out.period_buyers:,} buyers, "
                          f"median gap {out.median_gap_days} days")


def value_command(
    start: datetime = typer.Option(..., "--from", formats=DAY, help="First day whose cohort is reported."),
    end: datetime = typer.Option(..., "--to", formats=DAY, help="Last day whose cohort is reported."),
    as_of: datetime | None = typer.Option(None, "--as-of", formats=DAY, help="Revenue up to this day (default --to)."),
    cohort_by: str = typer.Option("first_order", "--cohort-by", help="first_order or joined."),
    unit: str = typer.Option("month", "--unit", help="week or month."),
    engine_name: str = typer.Option("auto", "--engine", help=ENGINE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """Print per-customer value (单客价) by cohort and by acquiring channel code."""
    params = cohort_value.ValueParams(start.date(), end.date(), cohort_by, unit,  # type: ignore[arg-type]
                                      as_of.date() if as_of else None)
    out = _guard(lambda: value_report(_where(engine_name), params))
    rows = [{"by": "cohort", **r.model_dump()} for r in out.cohorts] + \
           [{"by": "channel_code", **r.model_dump()} for r in out.channels]
    _emit(out, fmt, rows, f"value per customer as of {out.as_of} ({out.engine})")


def attribution_command(
    start: datetime = typer.Option(..., "--from", formats=DAY, help="First day of acquisition."),
    end: datetime = typer.Option(..., "--to", formats=DAY, help="Last day of acquisition."),
    days: int = typer.Option(30, "--days", help="Revenue within this many days of acquisition."),
    engine_name: str = typer.Option("auto", "--engine", help=ENGINE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """Print customers acquired per channel code, their revenue within N days, and ROI where costs were entered."""
    out = _guard(lambda: attribution_report(_where(engine_name), attribution.AttributionParams(start.date(), end.date(),
                                                                                              days)))
    _emit(out, fmt, [r.model_dump() for r in out.channels], f"attribution, revenue within {days} days ({out.engine})")


def staff_command(
    start: datetime = typer.Option(..., "--from", formats=DAY, help="First day of the period."),
    end: datetime = typer.Option(..., "--to", formats=DAY, help="Last day of the period."),
    within_days: int = typer.Option(30, "--within-days", help="A new contact converts by paying within this many days."),
    engine_name: str = typer.Option("auto", "--engine", help=ENGINE_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """Print each staff member's customers, sales, new-contact conversion and reply figures."""
    params = staff_performance.StaffParams(start.date(), end.date(), within_days)
    out = _guard(lambda: staff_report(_where(engine_name), params))
    _emit(out, fmt, [r.model_dump() for r in out.staff], f"staff performance {start.date()}..{end.date()} ({out.engine})")


@costs_app.command("add")
def cost_add(
    code: int = typer.Option(..., "--code", help="Channel code id."),
    start: datetime = typer.Option(..., "--from", formats=DAY, help="First day the cost covers."),
    end: datetime = typer.Option(..., "--to", formats=DAY, help="Last day the cost covers."),
    amount: str = typer.Option(..., "--amount", help='Yuan, e.g. "1200.00".'),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """Record what a channel code cost over some days."""
    conf = settings()
    today = datetime.now(conf.tz).date()

    def run() -> Any:
        with unit_of_work(engine()) as s:
            return costs.add_cost(s, channel_code_id=code, first_day=start.date(), last_day=end.date(), amount=amount,
                                  note=note, actor="cli", today=today)
    view = _guard(run)
    typer.echo(f"cost {view.id}: {view.channel_code} {view.first_day}..{view.last_day} ¥{view.amount}")


@costs_app.command("list")
def cost_list(
    start: datetime | None = typer.Option(None, "--from", formats=DAY, help="Costs covering this day or later."),
    end: datetime | None = typer.Option(None, "--to", formats=DAY, help="Costs covering this day or earlier."),
    code: int | None = typer.Option(None, "--code", help="Only this channel code."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """List entered channel costs."""
    with unit_of_work(engine()) as s:
        views = costs.list_costs(s, first=start.date() if start else None, last=end.date() if end else None,
                                 channel_code_id=code)
    rows = [asdict(v) for v in views]
    if fmt is Format.json:
        typer.echo(orjson.dumps({"items": rows}, default=str, option=orjson.OPT_INDENT_2).decode())
        return
    _emit(BaseModel(), fmt, rows, f"{len(rows)} channel costs")


@costs_app.command("delete")
def cost_delete(cost_id: int = typer.Argument(..., help="The cost's id (siyu channel-cost list).")) -> None:
    """Delete a cost entry (a correction is a deletion and a new entry)."""
    def run() -> None:
        with unit_of_work(engine()) as s:
            costs.delete_cost(s, cost_id, actor="cli")
    _guard(run)
    typer.echo(f"deleted cost {cost_id}")


def register(analyze: typer.Typer, root: typer.Typer) -> None:
    """Add the analyses to ``siyu analyze`` and the costs to ``siyu channel-cost``."""
    analyze.command("funnel")(funnel_command)
    analyze.command("gmv")(gmv_command)
    analyze.command("repurchase")(repurchase_command)
    analyze.command("value")(value_command)
    analyze.command("attribution")(attribution_command)
    analyze.command("staff-performance")(staff_command)
    root.add_typer(costs_app, name="channel-cost")

"""``siyu analyze``: the analyses of customer intelligence, printed as a table, JSON or CSV."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from enum import Enum

import orjson
import typer

from siyu.analytics import aipl, customer_value, lifecycle, retention, rfm, scores
from siyu.analytics.engines import ENGINES, open_facts
from siyu.analytics.clv_schemas import top_indices
from siyu.analytics.schemas import aipl_out, lifecycle_out, retention_out, rfm_out
from siyu.cli import clv_report
from siyu.cli.common import engine, settings
from siyu.db.engine import unit_of_work
from siyu.domains.access.principal import CLI
from siyu.domains.scores import service as scores_service
from siyu.domains.scores.schemas import attention_out
from siyu.errors import SiyuError
from siyu.kit.money import from_fen

app = typer.Typer(no_args_is_help=True, help="Customer intelligence: RFM, lifecycle tiers, AIPL, retention, CLV, the stored scores and staff lists.")


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _fail(exc: SiyuError) -> typer.Exit:
    typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
    return typer.Exit(2)


def _thresholds(raw: str | None) -> rfm.Thresholds | None:
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
        return rfm.Thresholds(recency_days=tuple(data["recency_days"]), frequency=tuple(data["frequency"]),
                              monetary_fen=tuple(data["monetary_fen"]))
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise rfm.InvalidRfm('--thresholds takes JSON {"recency_days": [4 ints], "frequency": [4 ints], '
                             f'"monetary_fen": [4 ints]}} ({exc})') from exc


@app.command("rfm")
def rfm_command(
    as_of: datetime = typer.Option(..., "--as-of", formats=["%Y-%m-%d"], help="Last day of the window (brand's calendar)."),
    window_days: int = typer.Option(365, "--window-days", help="Days in the window, as-of day included."),
    thresholds: str | None = typer.Option(None, "--thresholds", help='Business cut points instead of quintiles: JSON '
                                          '{"recency_days": [7,30,90,180], "frequency": [2,3,5,8], "monetary_fen": [...]}'),
    compare_to: datetime | None = typer.Option(None, "--compare-to", formats=["%Y-%m-%d"],
                                               help="Also count who moved between segments since this as-of date."),
    engine_name: str = typer.Option("auto", "--engine", help=f"One of {', '.join(ENGINES)}."),
    fmt: Format = typer.Option(Format.table, "--format", help="table (segments), json (segments and grid) or csv "
                                                                "(one row per customer)."),
) -> None:
    """Score every buyer by recency, frequency and monetary value and count the eight RFM segments."""
    conf = settings()
    try:
        params = rfm.RfmParams(as_of=as_of.date(), window_days=window_days, thresholds=_thresholds(thresholds))
        params.check(datetime.now(conf.tz).date())
        earlier = None if compare_to is None else rfm.RfmParams(compare_to.date(), window_days, params.thresholds)
        facts = open_facts(engine(), conf.data_dir, engine_name, master=conf.spark_master)
    except SiyuError as exc:
        raise _fail(exc) from exc
    try:
        result = rfm.compute(facts, params, conf.tz, with_rows=fmt is Format.csv)
        flows = rfm.migration(facts, earlier, params, conf.tz) if earlier else {}
    finally:
        facts.close()
    if fmt is Format.json:  # the API's shape (GET /api/v1/analytics/rfm)
        data = rfm_out(result, earlier, flows).model_dump(mode="json", by_alias=True, exclude_none=True)
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    elif fmt is Format.csv:
        _csv(result)
    else:
        _table(result)
        if earlier:
            typer.echo(f"moves since {earlier.as_of} (none = not a buyer in that window):")
            for (a, b), n in sorted(flows.items(), key=lambda kv: -kv[1]):
                typer.echo(f"  {a:<22} -> {b:<22}{n:>10,}")


def _csv(result: rfm.RfmResult) -> None:
    out = csv.writer(sys.stdout)
    out.writerow(["customer_id", "recency_days", "frequency", "monetary", "r", "f", "m", "segment"])
    for row in result.rows or []:
        out.writerow([row["customer_id"], row["recency_days"], row["frequency"], from_fen(row["monetary_fen"]),
                      row["r"], row["f"], row["m"], row["segment"]])


def _table(result: rfm.RfmResult) -> None:
    p = result.params
    typer.echo(f"RFM as of {p.as_of} over {p.window_days} days ({'thresholds' if p.thresholds else 'quintiles'}, "
               f"{result.engine}): {result.customers:,} buyers; mean scores {result.means}")
    for code, zh, en in rfm.SEGMENTS.values():
        n = result.segments.get(code, 0)
        share = n / result.customers if result.customers else 0.0
        typer.echo(f"  {zh}\t{en:<24}{n:>10,}  {share:6.1%}")


def _load_json(path: Path, error: type[SiyuError]) -> Any:
    """Read a rules file; raise ``error`` saying why it cannot be used."""
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise error(f"{path} is not valid JSON: {exc}") from exc


@app.command("lifecycle")
def lifecycle_command(
    as_of: datetime = typer.Option(..., "--as-of", formats=["%Y-%m-%d"], help="The day to classify on (brand's calendar)."),
    window_days: int = typer.Option(365, "--window-days", help="Days counted for orders and spend, as-of day included."),
    rules_file: Path | None = typer.Option(None, "--rules", help="JSON rules (see docs/analytics.md); default: 新客, "
                                           "流失, 忠实, 优质, 低频, 普通."),
    engine_name: str = typer.Option("auto", "--engine", help=f"One of {', '.join(ENGINES)}."),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json (csv: use rfm for per-customer rows)."),
) -> None:
    """Count buyers per lifecycle tier, and the window's buyers as new or returning."""
    conf = settings()
    try:
        params = rfm.RfmParams(as_of=as_of.date(), window_days=window_days)
        params.check(datetime.now(conf.tz).date())
        rules = (lifecycle.DEFAULT_RULES if rules_file is None
                 else lifecycle.parse_rules(_load_json(rules_file, lifecycle.InvalidRules)))
        facts = open_facts(engine(), conf.data_dir, engine_name, master=conf.spark_master)
    except SiyuError as exc:
        raise _fail(exc) from exc
    try:
        result = lifecycle.compute(facts, params, conf.tz, rules)
    finally:
        facts.close()
    if fmt is Format.table:
        total = sum(result.tiers.values())
        typer.echo(f"lifecycle as of {params.as_of} ({params.window_days}-day window, {result.engine}): {total:,} buyers")
        for rule in result.rules:
            n = result.tiers[rule.tier]
            typer.echo(f"  {rule.name_zh}\t{rule.name_en:<16}{n:>10,}  {(n / total if total else 0):6.1%}")
        typer.echo(f"  window's buyers: {result.new_buyers:,} new, {result.returning_buyers:,} returning")
    else:
        typer.echo(orjson.dumps(lifecycle_out(result).model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())


@app.command("aipl")
def aipl_command(
    as_of: datetime = typer.Option(..., "--as-of", formats=["%Y-%m-%d"], help="The day to stage on (brand's calendar)."),
    window_days: int = typer.Option(90, "--window-days", help="Days of events and orders counted, as-of day included."),
    rules_file: Path | None = typer.Option(None, "--rules", help="JSON rules per stage (see docs/analytics.md)."),
    compare_to: datetime | None = typer.Option(None, "--compare-to", formats=["%Y-%m-%d"],
                                               help="Also count the moves between stages since this date."),
    engine_name: str = typer.Option("auto", "--engine", help=f"One of {', '.join(ENGINES)}."),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json."),
) -> None:
    """Count customers per AIPL stage (Awareness, Interest, Purchase, Loyalty) and the flows between stages."""
    conf = settings()
    try:
        params = rfm.RfmParams(as_of=as_of.date(), window_days=window_days)
        params.check(datetime.now(conf.tz).date())
        earlier = None if compare_to is None else rfm.RfmParams(compare_to.date(), window_days)
        if earlier:
            earlier.check(datetime.now(conf.tz).date())
        rules = aipl.DEFAULT if rules_file is None else aipl.parse_rules(_load_json(rules_file, aipl.InvalidAipl))
        facts = open_facts(engine(), conf.data_dir, engine_name, master=conf.spark_master)
    except SiyuError as exc:
        raise _fail(exc) from exc
    try:
        stages = aipl.distribution(facts, params, conf.tz, rules)
        moved = aipl.flows(facts, earlier, params, conf.tz, rules) if earlier else None
        out = aipl_out(params, facts.engine, stages, earlier, moved)
    finally:
        facts.close()
    if fmt is Format.table:
        typer.echo(f"AIPL as of {params.as_of} ({params.window_days}-day window, {out.engine}): "
                   f"{sum(stages.values()):,} customers with a stage")
        for stage in out.stages:
            typer.echo(f"  {stage.name_zh}\t{stage.name_en:<12}{stage.customers:>10,}")
        if out.flows is not None:
            typer.echo(f"moves since {earlier.as_of if earlier else ''} (none = no stage then):")
            for flow in out.flows:
                typer.echo(f"  {flow.from_:<10} -> {flow.to:<10}{flow.customers:>10,}")
    else:
        typer.echo(orjson.dumps(out.model_dump(mode="json", by_alias=True, exclude_none=True),
                                option=orjson.OPT_INDENT_2).decode())


@app.command("retention")
def retention_command(
    start: datetime = typer.Option(..., "--from", formats=["%Y-%m-%d"], help="First day whose cohort is reported."),
    end: datetime = typer.Option(..., "--to", formats=["%Y-%m-%d"], help="Last day counted (brand's calendar)."),
    unit: str = typer.Option("week", "--unit", help="day, week (Monday first) or month."),
    periods: int = typer.Option(12, "--periods", help="Periods after the cohort's own."),
    cohort_by: str = typer.Option("first_order", "--cohort-by", help="first_order or joined (first seen)."),
    activity: str = typer.Option("", "--activity", help="Comma-separated event types that count as coming back; "
                                 "default: a paid order."),
    recurring: bool = typer.Option(False, "--recurring", help="Every active period starts a cohort entry."),
    engine_name: str = typer.Option("auto", "--engine", help=f"One of {', '.join(ENGINES)}."),
    fmt: Format = typer.Option(Format.table, "--format", help="table (percentages), json or csv (counts)."),
) -> None:
    """Print the retention triangle: of each cohort, how many came back 0, 1, 2 … periods later."""
    conf = settings()
    try:
        params = retention.RetentionParams(start.date(), end.date(), unit, periods, cohort_by,  # type: ignore[arg-type]
                                           tuple(t.strip() for t in activity.split(",") if t.strip()),
                                           "recurring" if recurring else "first")
        if cohort_by not in ("first_order", "joined"):
            raise retention.InvalidRetention(f"--cohort-by must be first_order or joined, got {cohort_by!r}")
        params.check(datetime.now(conf.tz).date())
        facts = open_facts(engine(), conf.data_dir, engine_name, master=conf.spark_master)
    except SiyuError as exc:
        raise _fail(exc) from exc
    try:
        result = retention.compute(facts, params, conf.tz)
    finally:
        facts.close()
    if fmt is Format.json:
        typer.echo(orjson.dumps(retention_out(result).model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
    elif fmt is Format.csv:
        out = csv.writer(sys.stdout)
        out.writerow(["cohort", "size", *(f"p{k}" for k in range(params.periods + 1))])
        for c in result.cohorts:
            out.writerow([c["cohort"].isoformat(), c["size"], *c["retained"]])
    else:
        typer.echo(f"retention by {params.unit} ({params.mode}, cohort by {params.cohort_by}, {result.engine})")
        typer.echo("cohort       size  " + " ".join(f"{f'p{k}':>6}" for k in range(params.periods + 1)))
        for c in result.cohorts:
            cells = " ".join(f"{n / c['size']:6.1%}" if c["size"] else f"{'-':>6}" for n in c["retained"])
            typer.echo(f"{c['cohort'].isoformat()} {c['size']:>6,}  {cells}")


def _clv_checks(time_unit: str, as_of: datetime, tz: Any, later: datetime | None = None) -> rfm.RfmParams:
    if time_unit not in ("day", "week"):
        raise customer_value.InvalidClvInput(f"--time-unit must be day or week, got {time_unit!r}",
                                             code="invalid_time_unit")
    params = rfm.RfmParams(as_of=as_of.date())
    params.check(datetime.now(tz).date())
    if later is not None:
        rfm.RfmParams(as_of=later.date()).check(datetime.now(tz).date())
    return params


@app.command("clv")
def clv_command(
    as_of: datetime = typer.Option(..., "--as-of", formats=["%Y-%m-%d"], help="Fit on facts up to the end of this day "
                                   "(with --holdout-to: the end of the calibration period)."),
    time_unit: str = typer.Option("week", "--time-unit", help="day or week: the unit of recency, age and alpha."),
    months: int = typer.Option(12, "--months", help="CLV horizon in months (1-120)."),
    discount: float = typer.Option(0.12, "--discount-rate", help="Annual discount rate of the CLV (0.12 = 12%)."),
    top: int | None = typer.Option(None, "--top", min=0, help="Customers shown, highest CLV first (default: 10 in "
                                   "table, 20 in json, all in csv; 0 = all)."),
    customer: int | None = typer.Option(None, "--customer", help="Show only this customer's values."),
    holdout_to: datetime | None = typer.Option(None, "--holdout-to", formats=["%Y-%m-%d"],
                                               help="Calibration/holdout report: fit up to --as-of, compare with the "
                                                    "purchases made after it up to this day."),
    engine_name: str = typer.Option("auto", "--engine", help=f"One of {', '.join(ENGINES)}."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json (parameters under params) or csv."),
) -> None:
    """Fit BG/NBD (purchases, P(alive)) and Gamma-Gamma (spend) on every buyer as of a day; print each buyer's CLV."""
    conf = settings()
    try:
        params = _clv_checks(time_unit, as_of, conf.tz, holdout_to)
        facts = open_facts(engine(), conf.data_dir, engine_name, master=conf.spark_master)
    except SiyuError as exc:
        raise _fail(exc) from exc
    try:
        if holdout_to is not None:
            fitted, report = customer_value.holdout(facts, params.as_of, holdout_to.date(), conf.tz, time_unit)  # type: ignore[arg-type]
        else:
            values = customer_value.customer_values(facts, params.as_of, conf.tz, time_unit, months=months,  # type: ignore[arg-type]
                                                    annual_discount_rate=discount)
    except SiyuError as exc:
        raise _fail(exc) from exc
    finally:
        facts.close()
    if holdout_to is not None:
        clv_report.print_holdout(fitted, report, fmt.value, holdout_to.date())
        return
    limit = top if top is not None else {"table": 10, "json": 20, "csv": 0}[fmt.value]
    try:
        rows = top_indices(values, limit, customer)
    except SiyuError as exc:
        raise _fail(exc) from exc
    clv_report.print_values(values, rows, fmt.value)


@app.command("scores")
def scores_command(
    as_of: datetime | None = typer.Option(None, "--as-of", formats=["%Y-%m-%d"], help="Score as of the end of this "
                                          "day (default: today, with every fact so far)."),
    engine_name: str = typer.Option("auto", "--engine", help=f"One of {', '.join(ENGINES)}."),
    status: bool = typer.Option(False, "--status", help="Only show how fresh the stored scores are."),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json."),
) -> None:
    """Write every live customer's RFM, AIPL, lifecycle, CLV, churn and intent scores into customer_scores."""
    conf = settings()
    if status:
        clv_report.print_freshness(engine(), fmt.value)
        return
    day = as_of.date() if as_of else datetime.now(conf.tz).date()
    try:
        result = scores.write_back(engine(), conf.data_dir, day, conf.tz, trigger="cli", engine=engine_name,
                                   master=conf.spark_master)
    except SiyuError as exc:
        raise _fail(exc) from exc
    clv_report.print_scores(result, fmt.value)


@app.command("attention")
def attention_command(
    staff: str = typer.Option(..., "--staff", help="The staff member's WeCom userid."),
    kind: str = typer.Option("at_risk", "--kind", help="at_risk (churn warnings, by value at stake) or high_intent "
                             "(interest without an order, by intent value)."),
    limit: int = typer.Option(20, "--limit", help="How many customers (1-500)."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """Print a staff member's customers to act on today, from the stored scores, ranked (docs/clv.md)."""
    try:
        with unit_of_work(engine(), write=False) as session:
            found = scores_service.attention(session, CLI, staff, kind, limit)
            out = attention_out(found)
    except SiyuError as exc:
        raise _fail(exc) from exc
    clv_report.print_attention(out, fmt.value)

"""Output of ``siyu analyze clv|scores|attention``: tables for people, JSON (the API's shapes) and CSV."""

from __future__ import annotations

import csv
import sys
from typing import Any

import numpy as np
import orjson
import typer
from sqlalchemy import Engine

from siyu.analytics.clv.report import CalibrationReport
from siyu.analytics.clv_schemas import clv_out, holdout_out, scores_out
from siyu.analytics.customer_value import ClvFit, CustomerValues
from siyu.analytics.scores import ScoresResult
from siyu.db.engine import unit_of_work
from siyu.domains.scores import service as scores_service
from siyu.domains.scores.schemas import AttentionOut, RunOut, RunsOut


def _json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def print_values(values: CustomerValues, rows: np.ndarray, fmt: str) -> None:
    """Print a CLV fit and the chosen buyers' values."""
    out = clv_out(values, rows)
    if fmt == "json":
        _json(out.model_dump(mode="json"))
        return
    columns = ["customer_id", "frequency", "recency", "age", "monetary", "expected_purchases", "p_alive",
               "expected_spend", "clv"]
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for v in out.values:
            writer.writerow([getattr(v, c) for c in columns])
        return
    g, s = values.fit.bgnbd, values.fit.gamma_gamma
    typer.echo(f"CLV models as of {out.as_of} (time unit {out.time_unit}, {out.engine}): {out.customers:,} buyers, "
               f"{out.repeat_buyers:,} bought again")
    typer.echo(f"  BG/NBD       r={g.r:.4f} alpha={g.alpha:.4f} a={g.a:.4f} b={g.b:.4f}  (log-likelihood "
               f"{g.log_likelihood:,.1f})")
    typer.echo(f"  Gamma-Gamma  p={s.p:.4f} q={s.q:.4f} v={s.v:.4f}  (fen; frequency-spend correlation "
               f"{s.frequency_monetary_correlation:.3f})")
    for warning in (*g.warnings, *s.warnings):
        typer.echo(f"  warning: {warning}")
    typer.echo(f"{out.months}-month CLV at {out.annual_discount_rate:.0%} a year, highest first:")
    typer.echo(f"  {'customer':>10} {'x':>4} {'P(alive)':>9} {'E[purchases]':>13} {'E[spend] ¥':>11} {'CLV ¥':>11}")
    for v in out.values:
        typer.echo(f"  {v.customer_id:>10} {v.frequency:>4} {v.p_alive:>9.3f} {v.expected_purchases:>13.2f} "
                   f"{v.expected_spend:>11} {v.clv:>11}")


def print_holdout(fitted: ClvFit, report: CalibrationReport, fmt: str, holdout_end: Any) -> None:
    """Print the calibration/holdout report."""
    out = holdout_out(fitted, report, holdout_end)
    if fmt == "json":
        _json(out.model_dump(mode="json"))
        return
    columns = ["frequency", "customers", "actual_mean", "predicted_mean", "actual_total", "predicted_total",
               "expected_customers"]
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for row in out.rows:
            writer.writerow([getattr(row, c) for c in columns])
        return
    typer.echo(f"calibration up to {out.calibration_end}, holdout to {out.holdout_end} ({out.holdout_length:g} "
               f"{out.time_unit}s, {out.engine}): {out.customers:,} customers")
    typer.echo(f"  {'x':>4} {'customers':>10} {'actual mean':>12} {'predicted':>10} {'expected with x':>16}")
    for row in out.rows:
        typer.echo(f"  {row.frequency:>4} {row.customers:>10,} {row.actual_mean:>12.3f} {row.predicted_mean:>10.3f} "
                   f"{row.expected_customers:>16,.1f}")
    typer.echo(f"  total holdout purchases: actual {out.actual_total:,}, predicted {out.predicted_total:,.1f}")


def print_scores(result: ScoresResult, fmt: str) -> None:
    """Print what a write-back did."""
    out = scores_out(result)
    if fmt == "json":
        _json(out.model_dump(mode="json"))
        return
    typer.echo(f"scores as of {out.as_of} written for {out.written:,} customers in {out.seconds:.1f} s "
               f"({out.engine}; run {out.run_id})")
    typer.echo("  " + ", ".join(f"{k} {v:,}" for k, v in out.counts.items()))
    typer.echo("  seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in out.timings.items()))
    if "clv_error" in out.models:
        typer.echo(f"  CLV not computed: {out.models['clv_error']}")


def print_freshness(store: Engine, fmt: str) -> None:
    """Print the newest successful write-back and the recent runs."""
    with unit_of_work(store, write=False) as session:
        latest = scores_service.latest_run(session)
        runs = RunsOut(latest_ok=RunOut.model_validate(latest) if latest else None,
                       runs=[RunOut.model_validate(r) for r in scores_service.recent_runs(session, 10)])
    if fmt == "json":
        _json(runs.model_dump(mode="json"))
        return
    if runs.latest_ok is None:
        typer.echo("no scores written yet: run `siyu analyze scores`")
    else:
        typer.echo(f"scores as of {runs.latest_ok.as_of}, computed {runs.latest_ok.finished_at:%Y-%m-%d %H:%M:%S} UTC "
                   f"for {runs.latest_ok.customers:,} customers")
    for r in runs.runs:
        typer.echo(f"  run {r.id}: {r.status:<8} as of {r.as_of} ({r.trigger}) started {r.started_at:%Y-%m-%d %H:%M:%S}"
                   + (f", {r.seconds:.1f} s" if r.seconds is not None else "") + (f": {r.error}" if r.error else ""))


def print_attention(out: AttentionOut, fmt: str) -> None:
    """Print a staff member's ranked list."""
    if fmt == "json":
        _json(out.model_dump(mode="json"))
        return
    value = "value_at_stake" if out.kind == "at_risk" else "intent_value"
    columns = ["customer_id", "name_masked", value, "clv", "p_alive", "p_alive_prev", "days_since_last",
               "usual_gap_days", "intent_days", "open_order", "lifecycle_tier", "rfm_segment"]
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for item in out.items:
            writer.writerow([getattr(item, c) for c in columns])
        return
    typer.echo(f"{out.staff_name} ({out.staff_userid}): {out.total:,} customers {out.kind.replace('_', ' ')}"
               + (f", scores as of {out.as_of}" if out.as_of else ", never scored: run `siyu analyze scores`"))
    for item in out.items:
        why = (f"P(alive) {item.p_alive_prev or 0:.2f} -> {item.p_alive or 0:.2f}, silent {item.days_since_last} d"
               + (f" (usual {item.usual_gap_days:.0f} d)" if item.usual_gap_days else "")
               if out.kind == "at_risk" else
               f"{item.intent_days} signal days" + (", open order" if item.open_order else ""))
        typer.echo(f"  {item.customer_id:>10} {item.name_masked or '':<8} ¥{getattr(item, value)!s:>10}  {why}")

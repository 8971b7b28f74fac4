"""``siyu demo``: build the simulated brand 「山茶集」 into the configured database (see docs/demo.md)."""

from __future__ import annotations

import sys
from datetime import datetime

import typer
from sqlalchemy.engine import make_url
from tqdm import tqdm

from siyu.cli.common import settings as configured_settings
from siyu.db.engine import long_writes_expected, make_engine
from siyu.db.migrate import upgrade
from siyu.db.reset import is_empty, reset_database
from siyu.demo.engagement import EngagementReport, set_up
from siyu.demo.runner import DemoOptions, DemoReport, build
from siyu.errors import SiyuError

LABELS = (("customers", "customers (live)"), ("merged_customers", "merged customers"), ("identities", "identities"),
          ("review_items", "open review items"), ("orders", "orders"), ("order_facts", "order facts"),
          ("events", "events"), ("staff", "staff"), ("channel_codes", "channel codes"),
          ("ownerships", "follow relations"), ("groups", "customer groups"))


def _print(report: DemoReport, url: str) -> None:
    typer.echo(f"demo brand 山茶集 built in {report.seconds:.1f} s ({report.mode} path, {report.facts:,} facts) "
               f"into {url}")
    for key, label in LABELS:
        typer.echo(f"  {label:<20} {report.counts.get(key, 0):>12,}")
    if report.rejected:
        typer.echo(f"  refused by ingestion: {report.rejected}")
    if report.phases:
        typer.echo("  phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report.phases.items()))
    typer.echo("console login:  admin / " + report.admin_password)
    typer.echo("admin API key:  " + report.api_key)


def _print_engagement(r: EngagementReport) -> None:
    typer.echo(f"engagement: {r.content_items} content items, {r.segments} segments, {r.journeys} journeys "
               f"({r.published} published: `siyu serve` runs them from now on), {r.rules} auto-reply rules, "
               f"{r.faqs} FAQ entries")


def demo(
    customers: int = typer.Option(20_000, "--customers", min=1, max=5_000_000, help="How many people to simulate."),
    seed: int = typer.Option(42, "--seed", help="Same seed, same brand."),
    reset: bool = typer.Option(False, "--reset", help="Empty the database first (SQLite: delete the file)."),
    until: datetime | None = typer.Option(None, "--until", formats=["%Y-%m-%d"],
                                          help="Last day of the two-year history (default: today, UTC)."),
    mode: str = typer.Option("auto", "--mode", help="bulk (the exact fast loader; auto picks it) or ingest (every "
                             "fact through the API's services, several times slower)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress on stderr."),
    engagement: bool = typer.Option(True, "--engagement/--no-engagement", help="Also set up content, segments, "
                                    "journeys and auto-replies for the brand (docs/demo.md)."),
) -> None:
    """Generate a deterministic simulated brand: staff, channel codes, groups, customers, orders, events."""
    cfg = configured_settings()
    url = cfg.effective_database_url
    shown = make_url(url).render_as_string(hide_password=True)
    if reset:
        engine = reset_database(url)
    else:
        engine = make_engine(url)
        upgrade(engine)
        if not is_empty(engine):
            typer.echo(f"error [database_not_empty]: {shown} already holds data; pass --reset to replace it", err=True)
            raise typer.Exit(2)
    options = DemoOptions(customers=customers, seed=seed, until=until.date() if until else None, mode=mode)
    bar = tqdm(total=customers, unit=" customers", disable=not progress, file=sys.stderr, mininterval=0.5,
               desc="demo")
    set_up_report = None
    try:
        with long_writes_expected():  # the build holds the write lock for seconds at a time, and nobody waits
            report = build(engine, cfg, options, on_block=bar.update)
            bar.close()
            set_up_report = set_up(engine, cfg) if engagement else None
    except SiyuError as exc:
        typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        bar.close()
        engine.dispose()
    _print(report, shown)
    if set_up_report is not None:
        _print_engagement(set_up_report)

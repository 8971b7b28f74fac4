"""``siyu analytics``: the daily summaries behind the console dashboard."""

from __future__ import annotations

import time

import typer
from tqdm import tqdm

from siyu.analytics import refresh as summaries
from siyu.cli.common import session_scope, settings

app = typer.Typer(no_args_is_help=True, help="Analytical summaries (the dashboard's daily figures).")


@app.command("refresh")
def refresh(full: bool = typer.Option(False, "--full", help="Rebuild every summary from the facts "
                                                              "(an existing store's first build, or a repair)."),
            quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")) -> None:
    """Bring the dashboard's daily summaries up to date (only what changed since the last refresh)."""
    tz = settings().tz
    started = time.perf_counter()
    with session_scope() as session, tqdm(unit=" customers", disable=quiet, mininterval=2) as bar:
        run = summaries.rebuild if full else summaries.refresh
        result = run(session, tz, progress=bar.update)
    kind = "rebuilt" if result.full else "refreshed"
    typer.echo(f"summaries {kind}: {result.days} days and {result.customers} customers recomputed "
               f"in {time.perf_counter() - started:.1f} s")

"""``siyu worker``: background jobs in the foreground (today: the dashboard summaries' scheduled refresh)."""

from __future__ import annotations

import typer

from siyu.cli.common import engine, settings
from siyu.kit import logs
from siyu.worker.refresher import SummaryRefresher


def worker(
    interval: int | None = typer.Option(None, min=1, help="Seconds between refreshes (default: "
                                        "SIYU_SUMMARY_REFRESH_SECONDS)."),
    once: bool = typer.Option(False, "--once", help="Refresh once if anything changed, and exit (for cron)."),
) -> None:
    """Keep the dashboard's summaries fresh: refresh them on a schedule, taking turns with other processes."""
    cfg = settings()
    logs.configure(cfg.log_level)
    every = interval if interval is not None else cfg.summary_refresh_seconds
    refresher = SummaryRefresher(engine(), cfg.tz, every)
    if once:
        result = refresher.run_once()
        typer.echo("nothing to refresh (or another process is refreshing)" if result is None else
                   f"summaries refreshed: {result.days} days and {result.customers} customers recomputed")
        return
    if every <= 0:
        typer.echo("error: SIYU_SUMMARY_REFRESH_SECONDS is 0; pass --interval SECONDS", err=True)
        raise typer.Exit(2)
    typer.echo(f"refreshing the dashboard's summaries every {every} s; Ctrl-C stops")
    try:
        refresher.run()
    except KeyboardInterrupt:
        refresher.stop(timeout=0)

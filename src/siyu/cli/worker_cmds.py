"""``siyu worker``: background jobs in the foreground (summaries, scores, segments, journeys, mass messages, service
replies and the outbox dispatcher); any number of them may run beside each other and beside ``siyu serve``."""

from __future__ import annotations

import typer

from siyu.cli.common import engine, settings
from siyu.kit import logs
from siyu.worker.dispatch import DispatchLoop
from siyu.worker.journeys import JourneyScheduler
from siyu.worker.mass import MassScheduler
from siyu.worker.refresher import SummaryRefresher
from siyu.worker.scores import score_schedule
from siyu.worker.segments import SegmentRefresher
from siyu.worker.service import ServiceWorker


def worker(
    interval: int | None = typer.Option(None, min=1, help="Seconds between refreshes (default: "
                                        "SIYU_SUMMARY_REFRESH_SECONDS)."),
    once: bool = typer.Option(False, "--once", help="Refresh once if anything changed, and exit (for cron)."),
    dispatch: bool = typer.Option(True, "--dispatch/--no-dispatch", help="Also run the outbox dispatcher "
                                  "(send due messages under caps, quiet hours and consent)."),
    dispatch_share: float = typer.Option(1.0, min=0.01, max=1.0, help="This process's share of each channel's "
                                         "rate limit (0.5 with two workers)."),
) -> None:
    """Run the background jobs: summaries, scores, segments, journeys, mass messages, service replies, the outbox."""
    cfg = settings()
    logs.configure(cfg.log_level)
    every = interval if interval is not None else cfg.summary_refresh_seconds
    store = engine()
    refresher = SummaryRefresher(store, cfg.tz, every, scores=score_schedule(store, cfg))
    segments = SegmentRefresher(store, cfg)
    journeys = JourneyScheduler(store, cfg)
    service = ServiceWorker(store, cfg)
    mass = MassScheduler(store, cfg)
    dispatcher = DispatchLoop(store, cfg, share=dispatch_share) if dispatch else None
    if once:
        result = refresher.run_once()
        typer.echo("nothing to refresh (or another process is refreshing)" if result is None else
                   f"summaries refreshed: {result.days} days and {result.customers} customers recomputed")
        scored = refresher.scores.run_once() if refresher.scores else None
        if scored is not None:
            typer.echo(f"scores written as of {scored.as_of} for {scored.written} customers")
        _segments_once(segments)
        _journeys_once(journeys)
        _service_once(service)
        sent = mass.run_once()
        if sent:
            typer.echo(f"mass messages sent: {', '.join(map(str, sent))}")
        if dispatcher is not None:
            _dispatch_once(dispatcher)
        return
    if every <= 0:
        typer.echo("error: SIYU_SUMMARY_REFRESH_SECONDS is 0; pass --interval SECONDS", err=True)
        raise typer.Exit(2)
    typer.echo(f"refreshing the dashboard's summaries every {every} s; Ctrl-C stops")
    if segments.interval > 0:
        typer.echo(f"and segments, rule tags and interests every {segments.interval} s (in full every "
                   f"{cfg.segment_full_refresh_seconds} s)")
        segments.start()
    if service.interval > 0:
        typer.echo(f"and answers customer messages (rules, FAQ, hand-off, SLA alerts) every {service.interval} s")
        service.start()
    typer.echo(f"and runs journeys every {journeys.interval:g} s")
    journeys.start()
    typer.echo(f"and sends scheduled mass messages every {mass.interval:g} s")
    mass.start()
    if dispatcher is not None:
        typer.echo("and dispatches the outbox")
        dispatcher.start()
    try:
        refresher.run()
    except KeyboardInterrupt:
        refresher.stop(timeout=0)
        segments.stop(timeout=0)
        journeys.stop(timeout=0)
        service.stop(timeout=0)
        mass.stop(timeout=0)
        if dispatcher is not None:
            dispatcher.stop(timeout=0)



def _journeys_once(journeys: JourneyScheduler) -> None:
    done = journeys.run_once()
    typer.echo(f"journeys: {done.enrolled} enrolled, {done.steps} steps run, {done.exited} exited")

def _segments_once(segments: SegmentRefresher) -> None:
    outcome = segments.run_once()
    if outcome is not None:
        typer.echo(f"segments refreshed ({'full' if outcome.full else f'{outcome.customers} customers'}): "
                   f"{sum(outcome.entered.values())} entered, {sum(outcome.exited.values())} exited")


def _dispatch_once(dispatcher: DispatchLoop) -> None:
    stats = dispatcher.run_once()
    if stats.claimed:
        typer.echo(f"outbox: {stats.sent} sent, {stats.failed} to retry, {stats.dead} dead, "
                   f"{sum(stats.held.values())} held")


def _service_once(service: ServiceWorker) -> None:
    turn = service.run_once()
    if turn is not None and (turn.events or turn.alerts):
        typer.echo(f"messages handled: {turn.events} ({turn.answered} answered, {turn.handed_off} handed off), "
                   f"{turn.alerts} SLA breaches alerted")

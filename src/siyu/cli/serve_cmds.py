"""``siyu serve``: the API and the console over HTTP, with the dashboard summaries' scheduled refresh.

With ``--worker`` (the default on the embedded SQLite file) the server also runs the engagement
engine's loops (journeys, scheduled mass messages, service replies, the outbox dispatcher) in its
own process, so a demo's journeys advance with no second command; ``siyu worker`` stays the way to
run them in production. The choice reaches the app through ``SIYU_SERVE_WORKER`` because uvicorn
imports the app by name (in each of its worker processes).
"""

from __future__ import annotations

import os

import typer
import uvicorn

from siyu.cli.common import settings
from siyu.config import get_settings


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, help="Worker processes (PostgreSQL benefits; SQLite has one writer)."),
    worker: bool | None = typer.Option(None, "--worker/--no-worker", show_default="on for SQLite",
                                       help="Also run journeys, scheduled mass messages, service replies and the "
                                            "outbox dispatcher in the server (default: SIYU_SERVE_WORKER, else on "
                                            "for the embedded SQLite file; production runs `siyu worker`)."),
) -> None:
    """Serve the API and console; refresh the dashboard's summaries every SIYU_SUMMARY_REFRESH_SECONDS (0: off)."""
    if worker is not None:
        os.environ["SIYU_SERVE_WORKER"] = "true" if worker else "false"
        get_settings.cache_clear()
    cfg = settings()
    if cfg.server_runs_worker:
        typer.echo("running journeys, mass messages, service replies and the outbox dispatcher in the server "
                   "(--no-worker to leave them to `siyu worker`)")
    uvicorn.run("siyu.web.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                access_log=False)

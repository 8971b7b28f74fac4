"""``siyu serve``: the API and the console over HTTP, with the dashboard summaries' scheduled refresh."""

from __future__ import annotations

import typer
import uvicorn

from siyu.cli.common import settings


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, help="Worker processes (PostgreSQL benefits; SQLite has one writer)."),
) -> None:
    """Serve the API and console; refresh the dashboard's summaries every SIYU_SUMMARY_REFRESH_SECONDS (0: off)."""
    settings()
    uvicorn.run("siyu.web.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                access_log=False)

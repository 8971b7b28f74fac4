"""Helpers shared by CLI commands: settings, a unit of work, errors to exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.config import Settings, get_settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.errors import SiyuError


def settings() -> Settings:
    """Return settings, exiting with the variable's name if they are invalid."""
    try:
        return get_settings()
    except Exception as exc:  # pydantic ValidationError names the SIYU_ variable
        typer.echo(f"error: invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from exc


def engine() -> Engine:
    """Return an engine for the configured database."""
    return make_engine(settings().effective_database_url)


@contextmanager
def session_scope(eng: Engine | None = None) -> Iterator[Session]:
    """Yield a session committed at the end; a SiyuError becomes a message and exit code 1."""
    try:
        with unit_of_work(eng or engine()) as session:
            yield session
    except SiyuError as exc:
        typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
        raise typer.Exit(1) from exc

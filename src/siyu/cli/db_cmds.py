"""``siyu db``: schema migrations."""

from __future__ import annotations

import typer

from siyu.cli.common import engine
from siyu.db import migrate

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the configured database to REVISION (default: head)."""
    eng = engine()
    migrate.upgrade(eng, revision)
    typer.echo(f"database at {revision} ({eng.url.render_as_string(hide_password=True)})")
